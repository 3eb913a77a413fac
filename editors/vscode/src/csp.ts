// The chat webview's Content-Security-Policy. No vscode import, so node
// tests check it.

/**
 * contentSecurityPolicy is the policy of the chat webview's page: its own
 * bundled script (with the page's nonce), stylesheet and fonts, and images
 * from the extension or inline (data:). Images from the network (https:)
 * only when the user allows them (tinychat.allowRemoteImages): a reply's
 * image URL can carry what the model read out to anyone's server.
 */
export function contentSecurityPolicy(cspSource: string, nonce: string, remoteImages: boolean): string {
	return [
		"default-src 'none'",
		`style-src ${cspSource}`,
		`script-src 'nonce-${nonce}'`,
		`img-src ${cspSource} data:${remoteImages ? ' https:' : ''}`,
		`font-src ${cspSource}`,
	].join('; ');
}

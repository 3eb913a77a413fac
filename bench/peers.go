package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The official SDKs the daemon is measured against: each a small program
// in bench/peers (a module of its own, so that tinychat's go.mod does not
// take the SDKs in) that streams from the mock and writes each delta's text
// on a line of its own, "D" then the text, then "END".
const (
	peerOpenAIGo    = "openai-go"    // github.com/openai/openai-go
	peerAnthropicGo = "anthropic-go" // github.com/anthropics/anthropic-sdk-go
	peerNodeOpenAI  = "node-openai"  // npm openai on node, pinned by bench/peers/node/package-lock.json
)

// sdkPeers are the SDK peers, in the order they run.
var sdkPeers = []string{peerOpenAIGo, peerAnthropicGo, peerNodeOpenAI}

// peerFormat is the wire format an SDK peer reads.
func peerFormat(peer string) string {
	if peer == peerAnthropicGo {
		return "anthropic"
	}
	return "openai"
}

// buildPeers builds the SDK peers that -peers asks for into dir, and
// returns the argv of each that could be built (all but the base URL and
// the message), with a note on each that could not: the bench runs without
// it rather than fail, since the SDKs come from the network.
func buildPeers(repo, dir, list string, progress func(string, ...any)) (map[string][]string, []string) {
	argv := map[string][]string{}
	var notes []string
	want := map[string]bool{}
	for _, p := range strings.Split(list, ",") {
		switch p = strings.TrimSpace(p); p {
		case "", "none":
		case "sdk", "all":
			for _, q := range sdkPeers {
				want[q] = true
			}
		default:
			want[p] = true
		}
	}
	src := filepath.Join(repo, "bench", "peers")
	for _, p := range []string{peerOpenAIGo, peerAnthropicGo} {
		if !want[p] {
			continue
		}
		bin := filepath.Join(dir, p)
		progress("building the %s peer (go build in bench/peers)", p)
		cmd := exec.Command("go", "build", "-o", bin, "./"+p)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			notes = append(notes, fmt.Sprintf("%s not built (%v): %s", p, err, lastLine(out)))
			continue
		}
		argv[p] = []string{bin}
	}
	if want[peerNodeOpenAI] {
		if a, err := installNodePeer(filepath.Join(src, "node"), filepath.Join(dir, "node"), progress); err != nil {
			notes = append(notes, fmt.Sprintf("%s not installed: %v", peerNodeOpenAI, err))
		} else {
			argv[peerNodeOpenAI] = a
		}
	}
	for p := range want {
		if !slices.Contains(sdkPeers, p) {
			notes = append(notes, fmt.Sprintf("unknown peer %q (peers: %s)", p, strings.Join(sdkPeers, ", ")))
		}
	}
	return argv, notes
}

// installNodePeer copies the node peer to dir and installs its locked
// dependencies there with npm ci.
func installNodePeer(src, dir string, progress func(string, ...any)) ([]string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not installed")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, errors.New("npm is not installed")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{"package.json", "package-lock.json", "openai.mjs"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			return nil, err
		}
	}
	progress("installing the node-openai peer (npm ci in a temporary directory)")
	cmd := exec.Command(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=optional")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("npm ci: %v: %s", err, lastLine(out))
	}
	return []string{node, filepath.Join(dir, "openai.mjs")}, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// sdkRun runs an SDK peer against the mock, like curlRun: each delta's
// text comes on a line of its own after "D", and "END" ends the stream.
func (b *bench) sdkRun(scenario, peer string, s stream) Run {
	base := b.mockURL + "/v1"
	if s.format == "anthropic" {
		base = b.mockURL
	}
	argv := append(append([]string{}, b.peers[peer]...), base, s.message())
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = b.daemonEnv
	return b.lineRun(Run{Scenario: scenario, Peer: peer}, cmd, s, func(line []byte) (delta []byte, end bool) {
		if t, ok := bytes.CutPrefix(line, []byte("D")); ok && len(t) > 0 && t[len(t)-1] == '\n' {
			return t[:len(t)-1], false
		}
		return nil, string(line) == "END\n"
	})
}

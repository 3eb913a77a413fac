package providers

import (
	"strings"
	"testing"
)

func TestErrorFromJSON(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		typ, msg string
	}{
		{"openai", `{"error":{"message":"The model does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, "invalid_request_error", "The model does not exist"},
		{"openai code only", `{"error":{"message":"Bad gateway.","type":null,"code":502}}`, "502", "Bad gateway."},
		{"anthropic", `{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"}}`, "not_found_error", "model: claude-x"},
		{"error as text", `{"error":"model \"llama9\" not found, try pulling it first"}`, "", `model "llama9" not found, try pulling it first`},
		{"mistral object", `{"object":"error","message":"Invalid model: mistral-huge","type":"invalid_model","param":null,"code":"1500"}`, "invalid_model", "Invalid model: mistral-huge"},
		{"mistral message object", `{"object":"error","message":{"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required"}]},"type":"invalid_request_message_error"}`, "invalid_request_message_error", `{"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required"}]}`},
		{"message", `{"message":"Unauthorized","request_id":"abc"}`, "", "Unauthorized"},
		{"detail", `{"detail":"Not Found"}`, "", "Not Found"},
		{"error null", `{"error":null,"message":"busy"}`, "", "busy"},
		{"not JSON", "  <html><body>502 Bad Gateway</body></html>\n", "", "<html><body>502 Bad Gateway</body></html>"},
		{"JSON but no message", `{"ok":false}`, "", `{"ok":false}`},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		typ, msg := errorFromJSON([]byte(tt.body))
		if typ != tt.typ || msg != tt.msg {
			t.Errorf("%s: got %q, %q; want %q, %q", tt.name, typ, msg, tt.typ, tt.msg)
		}
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", maxMessage)
	got := clip(long)
	if len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "é…") {
		t.Errorf("clip cut %d bytes badly: ...%q", len(got), got[len(got)-8:])
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Provider: "anthropic", Status: 401, Type: "authentication_error", Message: "invalid x-api-key"}, "anthropic: 401 authentication_error: invalid x-api-key"},
		{&Error{Provider: "openai", Type: "timeout", Message: "nothing received for 1m0s"}, "openai: timeout: nothing received for 1m0s"},
		{&Error{Provider: "mistral", Status: 503, Message: "Service Unavailable"}, "mistral: 503: Service Unavailable"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

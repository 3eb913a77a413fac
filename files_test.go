package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestConfigWritableByOthers runs a key command from a configuration file
// that anyone may write, which would let anyone run commands as the user:
// tinychat warns and does not run it.
func TestConfigWritableByOthers(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cfg := writeFile(t, "config.toml", `[providers.local]
type = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_cmd = "touch `+marker+`; echo sk-key"
`)
	if err := os.Chmod(cfg, 0o666); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TINYCHAT_CONFIG": cfg}
	out, errOut, code := runCmd(command(t, env, "config"), "")
	if code != 0 || !strings.Contains(errOut, "writable by other users") || !strings.Contains(out, "api_key_cmd refused") {
		t.Errorf("config: exit %d, stdout %q, stderr %q; want a warning and the provider's problem", code, out, errOut)
	}
	_, errOut, code = runCmd(command(t, env, "ask", "--provider", "local", "hi"), "")
	if code != 1 || !strings.Contains(errOut, "api_key_cmd refused") {
		t.Errorf("ask: exit %d, stderr %q; want 1 and the refusal", code, errOut)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the key command of a file writable by others ran")
	}
	// A file with no command to run is harmless, however writable:
	// /dev/null, say, given as --config to use no file.
	if _, errOut, code := runCmd(command(t, map[string]string{"TINYCHAT_CONFIG": os.DevNull}, "ask", "-p", "echo", "hi"), ""); code != 0 || errOut != "" {
		t.Errorf("ask with %s as the configuration: exit %d, stderr %q; want 0 and no warning", os.DevNull, code, errOut)
	}
	// Made private again, the file is trusted.
	if err := os.Chmod(cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, _ := runCmd(command(t, env, "config"), ""); strings.Contains(out+errOut, "refused") || strings.Contains(errOut, "writable") {
		t.Errorf("config of a private file: %q %q", out, errOut)
	}
}

// TestDataDirectoryMadePrivate gives tinychat its default data directory
// made by hand with mode 0755: the first command makes it 0700. A
// directory that the user names (--db) is theirs and keeps its mode.
func TestDataDirectoryMadePrivate(t *testing.T) {
	cmd := command(t, nil, "sessions")
	cmd.Env = slices.DeleteFunc(cmd.Env, func(v string) bool { return strings.HasPrefix(v, "TINYCHAT_DB=") })
	home := strings.TrimPrefix(cmd.Env[slices.IndexFunc(cmd.Env, func(v string) bool { return strings.HasPrefix(v, "HOME=") })], "HOME=")
	data := filepath.Join(home, ".local", "share", "tinychat")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCmd(cmd, ""); code != 0 {
		t.Fatalf("sessions: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the data directory after a command: %v %v, want mode 0700", fi.Mode().Perm(), err)
	}

	mine := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(mine, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCmd(command(t, nil, "sessions", "--db", filepath.Join(mine, "chats.db")), ""); code != 0 {
		t.Fatalf("sessions --db: exit %d: %s", code, errOut)
	}
	if fi, _ := os.Stat(mine); fi.Mode().Perm() != 0o755 {
		t.Errorf("a directory the user named became %v", fi.Mode().Perm())
	}
}

// TestDanglingSymlinkStore names as the store a symbolic link whose
// target does not exist: tinychat refuses it rather than create a store
// wherever the link points.
func TestDanglingSymlinkStore(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere", "tinychat.db")
	if err := os.Mkdir(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "tinychat.db")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCmd(command(t, nil, "sessions", "--db", link), "")
	if code != 1 || !strings.Contains(errOut, "symbolic link") || !strings.Contains(errOut, target) {
		t.Errorf("exit %d, stderr %q; want 1 and the dangling link named", code, errOut)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("a store was created at the link's target")
	}
	// A link to a store that exists is followed.
	if _, errOut, code := runCmd(command(t, nil, "sessions", "--db", target), ""); code != 0 {
		t.Fatalf("making the store: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCmd(command(t, nil, "sessions", "--db", link), ""); code != 0 {
		t.Errorf("a link to a store: exit %d: %s", code, errOut)
	}
}

// Command bench measures the tinychat daemon against piped curl, the floor,
// on a loopback mock provider (issue 7).
//
//	go run ./bench                                  # every scenario but store, 5 interleaved iterations
//	go run ./bench -iterations 7 -scenarios throughput
//	go run ./bench -scenarios store                 # the daemon on a store of 100k messages
//	go run ./bench -scenarios l1ms,cancel -json     # machine-readable
//	go run ./bench mock -chunks 5 -delay 10ms       # the mock provider alone
//
// It builds the daemon from the repository (go build), starts the mock
// provider as a child process (this program again, `bench mock`), then
// runs every scenario once per iteration, the peers of a scenario one
// after the other in alternating order, and prints medians, min–max and
// the median of the per-iteration ratios to the baseline. The bench plays
// the editor: LSP framing over the daemon's stdin and stdout, initialize,
// chat/send, every chat/delta, shutdown, exit. See docs/performance.md.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	iterations   int
	scenarios    string
	json         bool
	markdown     bool
	quiet        bool
	repo         string
	daemonPath   string
	db           string
	small        int
	large        int
	huge         int
	peers        string
	latChunks    int
	latPace      time.Duration
	latDelay     time.Duration
	starts       int
	slowChunks   int
	slowWork     time.Duration
	streams      int
	streamChunks int
	streamPace   time.Duration
	streamDelay  time.Duration
	cancels      int
	runTimeout   time.Duration
	timeout      time.Duration

	// The store scenario: its store's size, and requests per daemon.
	storeMessages, storeSessions, storeBig, storeRepeats int
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "mock" || os.Args[1] == "relay1") {
		os.Exit(childMain(os.Args[1:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// childMain runs one of the bench's children: the mock provider or the
// one-frame-per-delta relay.
func childMain(args []string) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "mock":
		err = mockMain(args[1:])
	case len(args) > 0 && args[0] == "relay1":
		err = relayMain(args[1:])
	default:
		err = fmt.Errorf("unknown child %q", args)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.iterations, "iterations", 5, "interleaved iterations: every scenario runs once in each")
	fs.StringVar(&c.scenarios, "scenarios", "default", "comma-separated scenarios or groups: default (every scenario but store), all, throughput (t10k,t100k,t100k-f64,t100k-an), latency (l1ms,startup), slow, concurrent, cancel, store (a large store: built first, which takes a minute or more)")
	fs.BoolVar(&c.json, "json", false, "print the results as JSON (runs, summaries, targets) instead of tables")
	fs.BoolVar(&c.markdown, "markdown", false, "print the tables as markdown")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines on stderr")
	fs.StringVar(&c.repo, "repo", "", "the tinychat repository to build (default: found from the working directory)")
	fs.StringVar(&c.daemonPath, "daemon", "", "a tinychat binary to measure instead of building one")
	fs.StringVar(&c.db, "db", "file", "the daemon's store: file (one temporary SQLite file for the whole bench, as an editor's) or memory (--db :memory:)")
	fs.IntVar(&c.small, "small", 10000, "deltas of the small stream (t10k)")
	fs.IntVar(&c.large, "large", 100000, "deltas of the large streams (t100k, t100k-f64, t100k-an)")
	fs.IntVar(&c.huge, "huge", 1000000, "deltas of the longest stream (t1m), for memory flat in the reply's length")
	fs.StringVar(&c.peers, "peers", "sdk", "the official SDKs to run beside curl and the daemon: sdk (openai-go, anthropic-go, node-openai), none, or a comma-separated list; each is built or installed once (network: the Go module proxy, npm), and one that cannot be is left out with a note")
	fs.IntVar(&c.latChunks, "lat-chunks", 2000, "deltas of the paced stream (l1ms)")
	fs.DurationVar(&c.latPace, "lat-pace", time.Millisecond, "the paced stream's pace")
	fs.DurationVar(&c.latDelay, "lat-delay", 50*time.Millisecond, "the paced stream's delay before its first byte")
	fs.IntVar(&c.starts, "starts", 10, "daemon starts per iteration (startup)")
	fs.IntVar(&c.slowChunks, "slow-chunks", 10000, "deltas of the slow consumer's stream")
	fs.DurationVar(&c.slowWork, "slow-work", 20*time.Microsecond, "the slow consumer's spin per frame")
	fs.IntVar(&c.streams, "streams", 1000, "concurrent streams")
	fs.IntVar(&c.streamChunks, "stream-chunks", 100, "deltas of each concurrent stream")
	fs.DurationVar(&c.streamPace, "stream-pace", 10*time.Millisecond, "pace of each concurrent stream")
	fs.DurationVar(&c.streamDelay, "stream-delay", 500*time.Millisecond, "each concurrent stream's delay before its first byte (a model's time to first token)")
	fs.IntVar(&c.cancels, "cancels", 50, "cancels in all, spread over the iterations")
	fs.IntVar(&c.storeMessages, "store-messages", 100000, "messages in the store scenario's store, in all")
	fs.IntVar(&c.storeSessions, "store-sessions", 1000, "sessions of the store's workspace that session/list lists")
	fs.IntVar(&c.storeBig, "store-big", 10000, "messages of the session the store scenario exports")
	fs.IntVar(&c.storeRepeats, "store-repeats", 3, "times each request is sent to each daemon (store)")
	fs.DurationVar(&c.runTimeout, "run-timeout", 2*time.Minute, "limit for one run")
	fs.DurationVar(&c.timeout, "timeout", 20*time.Minute, "limit for the whole bench; past it every child is killed")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.iterations < 1 || c.db != "file" && c.db != "memory" || c.storeRepeats < 1 {
		return nil, errors.New("-iterations and -store-repeats must be at least 1 and -db file or memory")
	}
	return c, nil
}

// run is the bench; it returns the exit code: 0, 1 when a run failed (a
// delta lost or mixed, a process that misbehaved), 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	// The watchdog writes to stderr too, from its own goroutine.
	direct := stderr
	stderr = &lockedWriter{w: stderr}
	c, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	list, err := pick(scenarios(c), c.scenarios)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	progress := func(format string, a ...any) {
		if !c.quiet {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}

	tmp, err := os.MkdirTemp("", "tinychat-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	b := &bench{cfg: c, timeout: c.runTimeout, end: time.Now().Add(c.timeout)}
	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			b.stopMock()
			killChildren()
			os.RemoveAll(tmp)
		})
	}
	defer cleanup()
	// Nothing outlives the bench: not a signal, not a hang. Then the
	// children are killed first, the mock included.
	abort := func(code int) {
		killChildren()
		cleanup()
		os.Exit(code)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sig:
			abort(130)
		case <-done:
		}
	}()
	// Once -timeout runs out every child is killed, which ends the run in
	// progress at once, and the bench returns saying what it was doing.
	// Only if it has not returned a while later does it exit, saying so on
	// the process's own stderr as well: a test that runs the bench is then
	// stopped with a reason, not a bare exit status.
	watchdog := time.AfterFunc(c.timeout, func() {
		b.expire()
		fmt.Fprintf(stderr, "bench: -timeout of %v ran out during %s; killing every child\n", c.timeout, b.doing())
		killChildren()
		time.AfterFunc(abortGrace, func() {
			msg := fmt.Sprintf("bench: -timeout of %v ran out during %s, and the bench did not stop within %v of it\n", c.timeout, b.doing(), abortGrace)
			fmt.Fprint(stderr, msg)
			if direct != io.Writer(os.Stderr) {
				fmt.Fprint(os.Stderr, msg)
			}
			abort(1)
		})
	})
	defer watchdog.Stop()

	// ranOut reports whether the -timeout ran out, and says so.
	ranOut := func() bool {
		if !b.expired() {
			return false
		}
		fmt.Fprintf(stderr, "bench: -timeout of %v ran out during %s\n", c.timeout, b.doing())
		return true
	}

	m := machineInfo()
	m.Command = commandLine(args)
	b.now("setup (building the daemon, starting the mock, warming up)")
	if err := b.setup(tmp, &m, progress); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		ranOut()
		return 1
	}
	if ranOut() {
		return 1
	}
	if slices.ContainsFunc(list, func(s scenario) bool { return s.name == "startup" }) {
		b.now("building the startup floor")
		progress("building the startup floor (a Go program that only answers JSON-RPC)")
		bin, err := buildFloor(filepath.Join(tmp, "floor"))
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		b.floor = []string{bin}
	}
	if slices.ContainsFunc(list, func(s scenario) bool { return s.name == "store" }) {
		b.now("building the store")
		if err := b.buildStore(tmp, progress); err != nil {
			fmt.Fprintln(stderr, "bench: building the store:", err)
			ranOut()
			return 1
		}
		if ranOut() {
			return 1
		}
		m.LoadStart = loadavg()
	}

	var runs []Run
	failed := false
	for it := 0; it < c.iterations; it++ {
		for _, s := range list {
			b.now(fmt.Sprintf("scenario %s, iteration %d of %d", s.name, it+1, c.iterations))
			for _, r := range s.run(b, it) {
				r.Iter = it
				runs = append(runs, r)
				progress("[%d/%d] %-10s %-8s %s", it+1, c.iterations, r.Scenario, r.Peer, r.brief())
				failed = failed || r.Err != ""
			}
			if ranOut() {
				return 1
			}
		}
	}
	m.LoadEnd = loadavg()
	rep := report(c, m, list, runs)
	rep.Store = b.store
	if c.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout, c.markdown)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if failed {
		fmt.Fprintln(stderr, "bench: some runs failed; see their errors")
		return 1
	}
	return 0
}

// setup builds the daemon, starts the mock and warms both up.
func (b *bench) setup(tmp string, m *machine, progress func(string, ...any)) error {
	c := b.cfg
	var err error
	if b.curl, err = exec.LookPath("curl"); err != nil {
		return errors.New("curl is not installed; it is the floor every ratio is taken to")
	}
	m.Curl = curlVersion(b.curl)
	bin := c.daemonPath
	if bin == "" {
		repo := c.repo
		if repo == "" {
			if repo, err = findRepo(); err != nil {
				return err
			}
		}
		bin = filepath.Join(tmp, "tinychat")
		progress("building the daemon: CGO_ENABLED=0 go build -o %s . (in %s)", bin, repo)
		t := time.Now()
		// Built as README installs it: static, without cgo.
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
		m.Daemon = fmt.Sprintf("built from %s with `CGO_ENABLED=0 go build` in %.1f s", repo, time.Since(t).Seconds())
	} else {
		m.Daemon = "given: " + bin
	}

	db := ":memory:"
	if c.db == "file" {
		db = filepath.Join(tmp, "data", "tinychat.db")
		if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
			return err
		}
	}
	b.daemon = []string{bin, "--db", db}
	m.Daemon += ", run as `tinychat --db " + map[string]string{"file": "<temporary file, shared by every run>", "memory": ":memory:"}[c.db] + "`"

	port, err := b.startMock(tmp)
	if err != nil {
		return err
	}
	b.mockURL = "http://127.0.0.1:" + port
	m.Mock = "a child process (this program as `bench mock`) on " + b.mockURL + ", so that it shares no Go runtime (GC, scheduler) with the bench's reader; deltas take one write(2) each unless the scenario says otherwise"
	b.daemonEnv = daemonEnv(tmp, b.mockURL)
	relay, err := selfCmd("relay1", "-base", b.mockURL+"/v1")
	if err != nil {
		return err
	}
	b.relay = relay.Args

	if c.peers != "none" {
		repo := c.repo
		if repo == "" {
			if repo, err = findRepo(); err != nil {
				return err
			}
		}
		var notes []string
		b.peers, notes = buildPeers(repo, filepath.Join(tmp, "peers"), c.peers, progress)
		for _, n := range notes {
			progress("bench: %s", n)
		}
		m.PeerNotes = notes
	}

	// One unmeasured run of each kind: the store's schema is made, the
	// binaries are in the page cache.
	warm := stream{format: "openai", mock: mockConfig{chunks: 100, flush: 1}}
	for _, r := range []Run{b.curlRun("warmup", warm), b.editorRun("warmup", "tinychat", b.daemon, b.daemonEnv, warm)} {
		if r.Err != "" {
			return fmt.Errorf("warm-up %s: %s", r.Peer, r.Err)
		}
	}
	m.LoadStart = loadavg()
	return nil
}

// startMock starts the mock and returns its port.
func (b *bench) startMock(tmp string) (string, error) {
	cmd, err := selfCmd("mock", "-exit-on-stdin-eof", "-lifetime", b.cfg.timeout.String(), "-max-requests", "10000000")
	if err != nil {
		return "", err
	}
	// The mock lives until its stdin closes: when the bench exits, however
	// it exits.
	if b.mockIn, err = cmd.StdinPipe(); err != nil {
		return "", err
	}
	b.mockCmd = cmd
	outR, outW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	cmd.Stdout = outW
	cmd.Stderr = os.Stderr
	err = start(cmd, "mock")
	outW.Close()
	if err != nil {
		return "", err
	}
	outR.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(outR).ReadString('\n')
	outR.Close()
	if err != nil {
		return "", fmt.Errorf("the mock did not tell its port: %w", err)
	}
	port := strings.TrimSpace(line)
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("the mock said %q, not a port", line)
	}
	return port, nil
}

// stopMock closes the mock's stdin, which ends it, and waits for it.
func (b *bench) stopMock() {
	if b.mockCmd == nil {
		return
	}
	b.mockIn.Close()
	_ = wait(b.mockCmd, 2*time.Second)
	b.mockCmd = nil
}

func (b *bench) relayEnv() []string { return append(os.Environ(), childEnv+"=1") }

// daemonEnv is the daemon's environment: the mock as OpenAI and Anthropic,
// with dummy keys, and nothing of the user's configuration or data.
func daemonEnv(tmp, mockURL string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "TINYCHAT_"), strings.HasPrefix(k, "XDG_"), strings.HasSuffix(k, "_API_KEY"),
			strings.HasSuffix(k, "_BASE_URL"), strings.HasSuffix(strings.ToLower(k), "_proxy"):
		default:
			env = append(env, kv)
		}
	}
	return append(env,
		"OPENAI_API_KEY=bench-dummy-key", "OPENAI_BASE_URL="+mockURL+"/v1",
		"ANTHROPIC_API_KEY=bench-dummy-key", "ANTHROPIC_BASE_URL="+mockURL,
		"XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "XDG_DATA_HOME="+filepath.Join(tmp, "data"),
		"XDG_STATE_HOME="+filepath.Join(tmp, "state"), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"))
}

// findRepo finds the tinychat module from the working directory up.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/tinychat/tinychat\n") {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("not inside the tinychat repository: give -repo or -daemon")
		}
		dir = up
	}
}

// lockedWriter is an io.Writer that goroutines share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine is where and how the bench ran.
type machine struct {
	CPU       string   `json:"cpu"`
	Cores     int      `json:"cores"`
	MemGiB    float64  `json:"mem_gib"`
	Kernel    string   `json:"kernel"`
	Go        string   `json:"go"`
	Curl      string   `json:"curl"`
	Command   string   `json:"command"`
	Daemon    string   `json:"daemon"`
	Mock      string   `json:"mock"`
	LoadStart string   `json:"loadavg_start"`
	LoadEnd   string   `json:"loadavg_end"`
	PeerNotes []string `json:"peer_notes,omitempty"` // SDK peers left out, and why
}

func machineInfo() machine {
	m := machine{CPU: "?", Cores: runtime.NumCPU(), Go: runtime.Version(), Kernel: runtime.GOOS}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemGiB = math.Round(kb/(1<<20)*10) / 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// commandLine is how the bench was run, as the user would type it again.
func commandLine(args []string) string {
	prog := "go run ./bench"
	if exe, err := os.Executable(); err == nil && !strings.Contains(exe, "go-build") {
		prog = os.Args[0]
	}
	parts := []string{prog}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"*$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func curlVersion(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(out))
	if len(f) >= 2 {
		return f[0] + " " + f[1]
	}
	return "?"
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is an arbor serve process that the benchmark started, or one it was given (--url).
type server struct {
	url  string
	name string // served model name
	args []string
	cmd  *exec.Cmd // nil for a server given by --url
	log  string    // its stderr, for a started one
	done chan error
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process could take it before
// arbor binds it; startServer then fails with the server's own "address in use".
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs `arbor serve` with args on a free 127.0.0.1 port and waits for /health 200.
func startServer(ctx context.Context, hc *http.Client, arbor, dir, tag string, args []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	full := append([]string{"serve", "--addr", addr, "--served-model-name", "bench", "--log-level", "warn"}, args...)
	logPath := filepath.Join(dir, tag+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(arbor, full...)
	cmd.Stdout, cmd.Stderr = lf, lf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", arbor, err)
	}
	s := &server{url: "http://" + addr, name: "bench", args: full, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); lf.Close() }()
	logf("started arbor serve (pid %d): %s", cmd.Process.Pid, strings.Join(full, " "))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("arbor serve exited while starting (%v); its log:\n%s", err, tail(logPath, 20))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := getText(hctx, hc, s.url+"/health")
		cancel()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("arbor serve not healthy after 2 minutes: %v", err)
		}
	}
}

// stop ends a started server: SIGTERM (graceful), then SIGKILL after 20 s. It reports whether
// the graceful shutdown exited 0.
func (s *server) stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	select {
	case err := <-s.done: // already gone
		s.done <- err
		return fmt.Errorf("arbor serve (pid %d) had exited: %v", pid, err)
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			return fmt.Errorf("arbor serve (pid %d) exited with %v after SIGTERM", pid, err)
		}
		logf("stopped arbor serve (pid %d)", pid)
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.done
		s.done <- err
		return fmt.Errorf("arbor serve (pid %d) ignored SIGTERM for 20 s; killed", pid)
	}
}

// pid is the process id of a started server, 0 for one given by --url.
func (s *server) pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// metricsSample is the unlabelled samples of one /metrics scrape, by name.
type metricsSample map[string]float64

// scrape reads /metrics (Prometheus text format) and keeps the samples without labels, and
// labelled ones under their full "name{labels}" key.
func scrape(ctx context.Context, hc *http.Client, url string) (metricsSample, error) {
	body, err := getText(ctx, hc, url+"/metrics")
	if err != nil {
		return nil, err
	}
	return parseMetrics(body), nil
}

func parseMetrics(body string) metricsSample {
	m := metricsSample{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp]; label values may hold spaces, so split after the '}'.
		var name, rest string
		if i := strings.IndexByte(line, '}'); i >= 0 && strings.IndexByte(line, '{') >= 0 &&
			strings.IndexByte(line, '{') < i {
			name, rest = line[:i+1], line[i+1:]
		} else if j := strings.IndexAny(line, " \t"); j >= 0 {
			name, rest = line[:j], line[j:]
		} else {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		m[name] = v
	}
	return m
}

// procStats are a started server's open file descriptors, OS threads and resident memory
// (Linux /proc; rss -1 when unknown).
type procStats struct {
	fds, threads int
	rss          int64 // bytes
}

var errNoProc = errors.New("no /proc for this process")

func readProc(pid int) (procStats, error) {
	if pid == 0 {
		return procStats{}, errNoProc
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return procStats{}, errNoProc
	}
	st := procStats{fds: len(ents), threads: -1, rss: -1}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				st.threads, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok { // "   123456 kB"
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					st.rss = kb << 10
				}
			}
		}
	}
	return st, nil
}

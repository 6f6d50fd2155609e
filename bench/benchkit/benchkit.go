// Package benchkit holds what the bench commands share: free ports, medians, and the harness that
// polls an HTTP address until new code answers (the hot-reload measurements of bench/core and
// bench/reload), counting the polls that failed on the way.
package benchkit

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// FreePort is a free TCP port on 127.0.0.1 (panics if none can be had).
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Median of ds (0 for none).
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// MS formats d in whole milliseconds.
func MS(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

var (
	client      = &http.Client{Timeout: 2 * time.Second}
	freshClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
)

// Poll GETs url every interval until its body contains want or timeout passes. It returns the time
// taken, whether want was served, and the failed polls: requests that got no answer (connection
// refused or reset, timeout) or a status of 500 or more — what a user would have seen as an error
// while the tool reloaded. Answers with the old body are not failures.
func Poll(url, want string, interval, timeout time.Duration) (took time.Duration, ok bool, failed int) {
	return poll(client, url, want, interval, timeout)
}

// PollFresh is Poll with a new connection for every request: it reaches whichever process listens
// now, where a kept-alive connection may still reach an old one that stopped listening but still
// answers (a server that restarts in place and shuts the old process down gracefully).
func PollFresh(url, want string, interval, timeout time.Duration) (took time.Duration, ok bool, failed int) {
	return poll(freshClient, url, want, interval, timeout)
}

// PollUntil polls url with a new connection every interval until done is closed, answers unread: the
// load a harness that waits for new code puts on a service while it is being rebuilt.
func PollUntil(done <-chan struct{}, url string, interval time.Duration) {
	for {
		select {
		case <-done:
			return
		case <-time.After(interval):
		}
		if resp, err := freshClient.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

func poll(client *http.Client, url, want string, interval, timeout time.Duration) (took time.Duration, ok bool, failed int) {
	t0 := time.Now()
	for time.Since(t0) < timeout {
		resp, err := client.Get(url)
		if err != nil {
			failed++
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				failed++
			} else if strings.Contains(string(b), want) {
				return time.Since(t0), true, failed
			}
		}
		time.Sleep(interval)
	}
	return time.Since(t0), false, failed
}

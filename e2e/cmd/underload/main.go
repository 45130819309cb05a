// Command underload sends buys through the shop's public URL at a steady rate
// while a disruption runs (a helm upgrade that rolls every pod, pods deleted
// with --grace-period=0, ...), keeps sending for a while after it, and then
// checks every acknowledged buy is stored exactly once:
//
//	underload -url http://10.200.0.1:30080 -rate 25 -max-failed 0 -- helm upgrade ...
//
// It prints "sent N acknowledged N stored N failed N" and exits 1 when more
// buys failed than -max-failed (-1: any number), when an acknowledged buy is
// missing or stored twice after -settle, or when the command fails.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/e2e/load"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "underload:", err)
		os.Exit(1)
	}
}

func run() error {
	base := flag.String("url", "", "the shop's public base URL (required)")
	rate := flag.Float64("rate", 25, "buys per second")
	users := flag.Int("users", 100, "spread the buys over this many users")
	warmup := flag.Duration("warmup", 5*time.Second, "load before the command starts")
	cooldown := flag.Duration("cooldown", 10*time.Second, "load after the command ends")
	maxFailed := flag.Int("max-failed", 0, "most buys that may fail (-1: any number)")
	settle := flag.Duration("settle", 2*time.Minute, "how long acknowledged buys may take to be listed")
	flag.Parse()
	if *base == "" || *rate <= 0 || *users <= 0 || flag.NArg() == 0 {
		flag.Usage()
		return errors.New("-url and a command after -- are required")
	}
	shop := strings.TrimRight(*base, "/")
	run := fmt.Sprintf("ul%d", time.Now().UnixNano()%1e9)
	c := load.NewClient()
	c.Timeout = 10 * time.Second

	var (
		mu     sync.Mutex
		acked  = map[string][]string{} // user -> ids answered 202
		kinds  = map[string]int{}
		sent   int
		wg     sync.WaitGroup
		stop   = make(chan struct{})
		fired  = make(chan struct{})
		failed int
	)
	go func() {
		defer close(fired)
		tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			user := fmt.Sprintf("%s-%d", run, i%*users)
			sent++
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, class, detail := buy(c, shop, user)
				mu.Lock()
				defer mu.Unlock()
				if class != "" {
					failed++
					kinds[class]++
					if failed <= 10 { // enough to see when and why, not a flood
						fmt.Fprintf(os.Stderr, "underload: %s buy failed: %s %s\n", time.Now().Format("15:04:05.000"), class, detail)
					}
					return
				}
				acked[user] = append(acked[user], id)
			}()
		}
	}()

	time.Sleep(*warmup)
	fmt.Fprintf(os.Stderr, "underload: %g buys/s to %s/buy; running: %s\n", *rate, shop, strings.Join(flag.Args(), " "))
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmdErr := cmd.Run()
	time.Sleep(*cooldown)
	close(stop)
	<-fired
	wg.Wait()

	tally, err := waitStored(c, shop, acked, *settle)
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("sent %d acknowledged %d stored %d failed %d", sent, tally.Acked, tally.Stored, failed)
	if len(kinds) > 0 {
		fmt.Printf(" (%s)", describe(kinds))
	}
	fmt.Printf(" missing %d twice %d stored-unacknowledged %d\n", len(tally.Missing), len(tally.Twice), tally.Extra)
	var errs []error
	if cmdErr != nil {
		errs = append(errs, fmt.Errorf("the command failed: %w", cmdErr))
	}
	if err != nil {
		errs = append(errs, err)
	}
	if !tally.OK() {
		errs = append(errs, fmt.Errorf("acknowledged buys lost %v, stored twice %v", clip(tally.Missing), clip(tally.Twice)))
	}
	if *maxFailed >= 0 && failed > *maxFailed {
		errs = append(errs, fmt.Errorf("%d buys failed, at most %d may", failed, *maxFailed))
	}
	return errors.Join(errs...)
}

// buy posts one purchase; class is "" for a 202, else what went wrong, with
// the error or the start of the answer as detail.
func buy(c *http.Client, shop, user string) (id, class, detail string) {
	body := fmt.Sprintf(`{"userid":%q,"username":"Under Load","price":"1.00"}`, user)
	req := load.PostJSON(context.Background(), shop+"/buy", []byte(body))
	// As the customer page does: it also lets a proxy replay the request on a
	// keep-alive connection the pod closed as it shut down.
	req.Header.Set("Idempotency-Key", uuid.NewString())
	res, err := c.Do(req)
	if err != nil {
		return "", "neterr", err.Error()
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return "", "neterr", err.Error()
	}
	if res.StatusCode != http.StatusAccepted {
		return "", strconv.Itoa(res.StatusCode), fmt.Sprintf("%.200s", raw)
	}
	var ack struct{ ID string }
	if json.Unmarshal(raw, &ack) != nil || ack.ID == "" {
		return "", "no id", fmt.Sprintf("%.200s", raw)
	}
	return ack.ID, "", ""
}

// waitStored polls every user's history until each acknowledged buy is listed
// once, or settle has passed; it returns the last tally.
func waitStored(c *http.Client, shop string, acked map[string][]string, settle time.Duration) (load.Tally, error) {
	deadline := time.Now().Add(settle)
	for {
		var total load.Tally
		var lastErr error
		for user, ids := range acked {
			stored, err := history(c, shop, user)
			if err != nil {
				lastErr = err
				total = total.Add(load.Count(ids, nil))
				continue
			}
			total = total.Add(load.Count(ids, stored))
		}
		if lastErr == nil && (total.OK() || len(total.Twice) > 0) {
			return total, nil
		}
		if time.Now().After(deadline) {
			return total, lastErr
		}
		time.Sleep(2 * time.Second)
	}
}

// history lists the ids of every purchase of user, following the cursors.
func history(c *http.Client, shop, user string) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		u := shop + "/getAllUserBuys/" + url.PathEscape(user) + "?limit=100"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		res, err := c.Get(u)
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %.200s", u, res.StatusCode, raw)
		}
		var page contract.PurchasePage
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		for _, p := range page.Purchases {
			ids = append(ids, p.ID)
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}

func describe(kinds map[string]int) string {
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func clip(ids []string) []string {
	if len(ids) > 5 {
		return append(ids[:5:5], fmt.Sprintf("... %d in all", len(ids)))
	}
	return ids
}

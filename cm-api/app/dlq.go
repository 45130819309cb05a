package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/spf13/pflag"

	"github.com/scalable-shop/shop/cm-api/internal/kafka"
	"github.com/scalable-shop/shop/platform/config"
	"github.com/scalable-shop/shop/platform/kafkaconn"
)

// dlqUsage is printed for `cm-api dlq` without a known subcommand.
const dlqUsage = `usage: cm-api dlq list   [--reason R]... [--offsets FROM-TO] [--id ID]... [--json] [settings]
       cm-api dlq replay [--reason R]... [--offsets FROM-TO] [--id ID]... | --all  [--yes] [settings]
IDs are "<partition>:<offset>" of the dead-letter topic (the ID column of list) or purchase ids.
replay is a dry run unless --yes is given. Settings are cm-api's kafka.* and log.* flags or
CM_API_KAFKA_* variables; the Kafka user needs Read on kafka.dlq_topic and Write on kafka.topic.`

// dlqFlags are the options of the dlq subcommands; config.Load gets the rest.
type dlqFlags struct {
	sel  dlqSelector
	all  bool
	yes  bool
	json bool
}

// dlqFlagNames are the flags splitDLQArgs takes out of the arguments.
var dlqFlagNames = map[string]bool{"reason": true, "offsets": true, "id": true, "all": false, "yes": false, "json": false}

// splitDLQArgs separates the dlq options (name → takes a value) from the
// settings flags, which go to config.Load unchanged.
func splitDLQArgs(args []string) (own, rest []string) {
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		takesValue, ok := dlqFlagNames[name]
		if !ok || !strings.HasPrefix(args[i], "--") {
			rest = append(rest, args[i])
			continue
		}
		own = append(own, args[i])
		if takesValue && !hasValue && i+1 < len(args) {
			i++
			own = append(own, args[i])
		}
	}
	return own, rest
}

func parseDLQFlags(args []string, stderr io.Writer) (dlqFlags, []string, error) {
	own, rest := splitDLQArgs(args)
	fs := pflag.NewFlagSet("cm-api dlq", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var f dlqFlags
	var offsets string
	fs.StringArrayVar(&f.sel.Reasons, "reason", nil, "only dead letters with this dlq-reason (repeatable)")
	fs.StringVar(&offsets, "offsets", "", "only this offset range of the dead-letter topic, FROM-TO inclusive")
	fs.StringArrayVar(&f.sel.IDs, "id", nil, `only this dead letter ("<partition>:<offset>") or purchase id (repeatable)`)
	fs.BoolVar(&f.all, "all", false, "replay: every dead letter")
	fs.BoolVar(&f.yes, "yes", false, "replay: write the records (without it: a dry run)")
	fs.BoolVar(&f.json, "json", false, "list: one JSON object per line")
	if err := fs.Parse(own); err != nil {
		fmt.Fprintln(stderr, dlqUsage)
		return f, nil, fmt.Errorf("dlq: %w (usage above)", err)
	}
	f.sel.From, f.sel.To = -1, -1
	if offsets != "" {
		var err error
		if f.sel.From, f.sel.To, err = parseOffsets(offsets); err != nil {
			return f, nil, err
		}
	}
	return f, rest, nil
}

// dlqConfig is what the dlq subcommands need: Kafka and the two topics; no
// MongoDB, no token.
type dlqConfig struct {
	Kafka    kafkaconn.Settings
	Topic    string
	DLQTopic string
}

func loadDLQConfig(args []string, getenv func(string) string, stderr io.Writer) (dlqConfig, error) {
	var settings []config.Setting
	for _, s := range Settings {
		if strings.HasPrefix(s.Key, "kafka.") || strings.HasPrefix(s.Key, "log.") {
			settings = append(settings, s)
		}
	}
	v, err := config.Load("cm-api dlq", EnvPrefix, settings, args, getenv, stderr)
	if err != nil {
		return dlqConfig{}, err
	}
	c := dlqConfig{Kafka: kafkaSettings(v), Topic: v.Required("kafka.topic"), DLQTopic: v.Required("kafka.dlq_topic")}
	return c, v.Err()
}

// runDLQ is `cm-api dlq list|replay`.
func runDLQ(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		fmt.Fprintln(stderr, dlqUsage)
		return errors.New("dlq: want a subcommand, list or replay (usage above)")
	}
	cmd := args[0]
	f, rest, err := parseDLQFlags(args[1:], stderr)
	if err != nil {
		return err
	}
	if cmd == "replay" && f.sel.empty() == !f.all {
		return errors.New("dlq replay: choose what to replay with --reason, --offsets or --id, or --all for every dead letter (not both)")
	}
	cfg, err := loadDLQConfig(rest, getenv, stderr)
	if err != nil {
		return err
	}
	conn, err := kafkaconn.New(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dls, err := kafka.ReadDeadLetters(ctx, conn, cfg.DLQTopic)
	if err != nil {
		return fmt.Errorf("dlq %s: %w", cmd, err)
	}
	if cmd == "list" {
		return listDeadLetters(stdout, dls, f)
	}
	return replayDeadLetters(ctx, stdout, conn, cfg, dls, f)
}

// deadLetterView is one line of `dlq list --json`.
type deadLetterView struct {
	ID                string `json:"id"`
	Partition         int    `json:"partition"`
	Offset            int64  `json:"offset"`
	Reason            string `json:"reason"`
	Error             string `json:"error"`
	OriginalTopic     string `json:"original_topic"`
	OriginalPartition int    `json:"original_partition"`
	OriginalOffset    int64  `json:"original_offset"`
	Key               string `json:"key"`
	PurchaseID        string `json:"purchase_id,omitempty"`
	Preview           string `json:"preview"`
	Replayable        bool   `json:"replayable"`
	Problem           string `json:"problem,omitempty"`
}

func viewOf(d kafka.DeadLetter) deadLetterView {
	v := deadLetterView{ID: dlqID(d), Partition: d.Partition, Offset: d.Offset, Reason: d.Reason, Error: d.Error,
		OriginalTopic: d.OriginalTopic, OriginalPartition: d.OriginalPartition, OriginalOffset: d.OriginalOffset,
		Key: preview(d.Key, 64), PurchaseID: purchaseID(d.Value), Preview: preview(d.Value, 200), Replayable: true}
	if err := revalidate(d); err != nil {
		v.Replayable, v.Problem = false, err.Error()
	}
	return v
}

func listDeadLetters(w io.Writer, dls []kafka.DeadLetter, f dlqFlags) error {
	if f.json {
		enc := json.NewEncoder(w)
		for _, d := range dls {
			if f.sel.matches(d) {
				if err := enc.Encode(viewOf(d)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREASON\tORIGIN\tKEY\tREPLAYABLE\tERROR\tVALUE")
	n := 0
	for _, d := range dls {
		if !f.sel.matches(d) {
			continue
		}
		n++
		v := viewOf(d)
		replayable := "yes"
		if !v.Replayable {
			replayable = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%d/%d\t%s\t%s\t%s\t%s\n", v.ID, v.Reason, v.OriginalTopic, v.OriginalPartition, v.OriginalOffset,
			preview(d.Key, 24), replayable, preview([]byte(v.Error), 60), preview(d.Value, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d of %d dead letters\n", n, len(dls))
	return err
}

func replayDeadLetters(ctx context.Context, w io.Writer, conn *kafkaconn.Conn, cfg dlqConfig, dls []kafka.DeadLetter, f dlqFlags) error {
	replay, skip := planReplay(dls, f.sel)
	for _, s := range skip {
		fmt.Fprintf(w, "skip   %s (%s): still invalid: %v\n", dlqID(s.DeadLetter), s.Reason, s.Problem)
	}
	for _, d := range replay {
		fmt.Fprintf(w, "replay %s (%s) key %s purchase %s\n", dlqID(d), d.Reason, preview(d.Key, 64), purchaseID(d.Value))
	}
	if !f.yes {
		_, err := fmt.Fprintf(w, "dry run: would replay %d and skip %d of the %d dead letters to %s; add --yes to write them\n",
			len(replay), len(skip), len(dls), cfg.Topic)
		return err
	}
	if len(replay) > 0 {
		msgs := make([]kafkago.Message, len(replay))
		for i, d := range replay {
			msgs[i] = replayRecord(d, cfg.DLQTopic)
		}
		wr := kafka.NewReplayWriter(conn, cfg.Topic)
		err := wr.WriteMessages(ctx, msgs...)
		if cerr := wr.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("dlq replay: writing to %s: %w (nothing is lost: the dead letters stay; the Kafka user needs Write on %s; a retry is safe, the consumer skips purchases it already stored)", cfg.Topic, conn.Explain(err), cfg.Topic)
		}
	}
	_, err := fmt.Fprintf(w, "replayed %d and skipped %d of the %d dead letters to %s\n", len(replay), len(skip), len(dls), cfg.Topic)
	return err
}

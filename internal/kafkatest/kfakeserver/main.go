// Command kfakeserver runs a one-broker kfake Kafka cluster on a loopback
// port until SIGTERM or SIGINT, for tests that need the broker in its own
// process (kafkatest.StartProcess builds and runs it). It prints
// "LISTEN host:port" once it accepts connections. Its data lives in -dir,
// written with fsync per batch, so a restart on the same directory (even
// after SIGKILL) has every acknowledged record.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "loopback port (0: a free one)")
	dir := flag.String("dir", "", "data directory (required)")
	topic := flag.String("topic", "", "a topic to create at start (if it does not exist yet)")
	parts := flag.Int("partitions", 1, "the -topic's partitions")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kfakeserver: -dir is required")
		os.Exit(2)
	}
	opts := []kfake.Opt{kfake.Ports(*port), kfake.DataDir(*dir), kfake.SyncWrites(), kfake.DefaultNumPartitions(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "8388608"})}
	if *topic != "" {
		opts = append(opts, kfake.SeedTopics(int32(*parts), *topic))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserver:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("LISTEN %s\n", c.ListenAddrs()[0])
	<-sig
	c.Close()
}

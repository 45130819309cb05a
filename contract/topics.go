package contract

// Topic names. The chart, the local stack and the tests create them up front: a
// kafka-go Reader started before its topic exists can sit without partitions.
const (
	TopicPurchases = "purchases"
	TopicDLQ       = "purchases.dlq"

	// DefaultPartitions is the partition count of TopicPurchases everywhere. It bounds
	// how far cm-api scales out, and changing it later moves users to other partitions.
	DefaultPartitions = 6
)

// Headers on the purchase event and on dead letters.
const (
	HeaderContentType = "content-type"
	HeaderTraceParent = "traceparent"

	HeaderDLQError     = "dlq-error"
	HeaderDLQReason    = "dlq-reason"
	HeaderDLQTopic     = "dlq-original-topic"
	HeaderDLQPartition = "dlq-original-partition"
	HeaderDLQOffset    = "dlq-original-offset"
)

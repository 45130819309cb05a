module github.com/scalable-shop/shop/cm-api

go 1.26

require (
	github.com/scalable-shop/shop/contract v0.0.0
	github.com/scalable-shop/shop/platform v0.0.0
)

require (
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.15 // indirect
	github.com/prometheus/client_golang v1.23.2 // indirect
	github.com/segmentio/kafka-go v0.4.51 // indirect
	go.mongodb.org/mongo-driver/v2 v2.10.0 // indirect
)

replace (
	github.com/scalable-shop/shop/contract => ../contract
	github.com/scalable-shop/shop/platform => ../platform
)

module github.com/scalable-shop/shop/localstack

go 1.26.0

require (
	github.com/scalable-shop/shop/cm-api v0.0.0
	github.com/scalable-shop/shop/cm-server v0.0.0
	github.com/scalable-shop/shop/contract v0.0.0
	github.com/scalable-shop/shop/platform v0.0.0
)

require (
	github.com/FerretDB/FerretDB v1.24.2 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/twmb/franz-go v1.22.3 // indirect
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c // indirect
	github.com/twmb/franz-go/pkg/kmsg v1.15.1 // indirect
)

replace (
	github.com/scalable-shop/shop/cm-api => ../cm-api
	github.com/scalable-shop/shop/cm-server => ../cm-server
	github.com/scalable-shop/shop/contract => ../contract
	github.com/scalable-shop/shop/platform => ../platform
)

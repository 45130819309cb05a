module github.com/scalable-shop/shop/hack/node/netprobe

go 1.26.0

module github.com/scalable-shop/shop/hack/vulndb

go 1.26.0

module github.com/scalable-shop/shop/contract

go 1.26

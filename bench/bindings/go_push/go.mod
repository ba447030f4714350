module cqueue-bench-push

go 1.21

require cqueue v0.0.0

replace cqueue => ../../../bindings/go

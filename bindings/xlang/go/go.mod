module cqueue-xlang

go 1.21

require cqueue v0.0.0

replace cqueue => ../../go

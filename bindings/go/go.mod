module cqueue

go 1.21

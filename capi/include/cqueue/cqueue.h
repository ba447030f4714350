/*
 * libcqueue — shared-memory messaging: queue (cq_*), pool (pool_*), broker (broker_*).
 * The umbrella header: include this one.
 */
#ifndef CQUEUE_CQUEUE_H
#define CQUEUE_CQUEUE_H

#include "broker.h"
#include "common.h"
#include "pool.h"
#include "queue.h"

#endif /* CQUEUE_CQUEUE_H */

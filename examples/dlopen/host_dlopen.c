/*
 * A host that loads libcqueue.so.1 at run time with RTLD_LOCAL and drives a
 * queue only through dlsym: nothing of libcqueue is linked in.
 *   host_dlopen [LIBRARY]   (default "libcqueue.so.1", found by the loader's search)
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Only the types the host needs, copied from the contract (API-CONTRACT.md). */
typedef struct cq_queue cq_queue;
typedef struct {
    uint32_t struct_size, flags, capacity, max_message_size, mode;
} cq_queue_options;

#define LOAD(lib, sym)                                                         \
    do {                                                                       \
        *(void **)(&sym) = dlsym(lib, #sym);                                   \
        if (!sym) {                                                            \
            fprintf(stderr, "dlopen host: missing %s: %s\n", #sym, dlerror()); \
            return 1;                                                          \
        }                                                                      \
    } while (0)

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "libcqueue.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen host: %s\n", dlerror());
        return 1;
    }
    /* RTLD_LOCAL: the library's symbols must not have entered the global scope. */
    if (dlsym(RTLD_DEFAULT, "cq_open")) {
        fprintf(stderr, "dlopen host: cq_open is global despite RTLD_LOCAL\n");
        return 1;
    }
    const char *(*cq_version)(void);
    const char *(*cq_strerror)(int);
    void (*cq_queue_options_init)(cq_queue_options *);
    int (*cq_open)(const char *, const cq_queue_options *, cq_queue **);
    int (*cq_enqueue)(cq_queue *, const void *, size_t);
    int (*cq_dequeue)(cq_queue *, void *, size_t, size_t *);
    int (*cq_close)(cq_queue *);
    int (*cq_unlink)(const char *);
    LOAD(lib, cq_version);
    LOAD(lib, cq_strerror);
    LOAD(lib, cq_queue_options_init);
    LOAD(lib, cq_open);
    LOAD(lib, cq_enqueue);
    LOAD(lib, cq_dequeue);
    LOAD(lib, cq_close);
    LOAD(lib, cq_unlink);

    char name[64];
    snprintf(name, sizeof name, "cq-dlopen-%d", (int)getpid());
    cq_queue_options o;
    cq_queue_options_init(&o);
    if (o.struct_size != sizeof o) {
        fprintf(stderr, "dlopen host: struct_size %u, expected %zu\n", o.struct_size, sizeof o);
        return 1;
    }
    o.flags = 1u; /* CQ_CREATE */
    o.capacity = 16;
    cq_queue *q = NULL;
    int rc = cq_open(name, &o, &q);
    if (rc != 0) {
        fprintf(stderr, "dlopen host: cq_open: %s\n", cq_strerror(rc));
        return 1;
    }
    for (int i = 0; i < 10; ++i) {
        char m[16];
        int len = snprintf(m, sizeof m, "m%d", i);
        if ((rc = cq_enqueue(q, m, (size_t)len)) != 0) {
            fprintf(stderr, "dlopen host: cq_enqueue: %s\n", cq_strerror(rc));
            return 1;
        }
    }
    for (int i = 0; i < 10; ++i) {
        char buf[256], want[16];
        size_t len = 0;
        int wl = snprintf(want, sizeof want, "m%d", i);
        rc = cq_dequeue(q, buf, sizeof buf, &len);
        if (rc != 0 || len != (size_t)wl || memcmp(buf, want, len) != 0) {
            fprintf(stderr, "dlopen host: message %d wrong (rc %d)\n", i, rc);
            return 1;
        }
    }
    size_t len = 0;
    char buf[8];
    if ((rc = cq_dequeue(q, buf, sizeof buf, &len)) != -1 /* CQ_EEMPTY */) {
        fprintf(stderr, "dlopen host: expected EEMPTY, got %d\n", rc);
        return 1;
    }
    cq_close(q);
    cq_unlink(name);
    printf("dlopen host: libcqueue %s via dlsym, 10 messages round-tripped\n", cq_version());
    if (dlclose(lib) != 0) {
        fprintf(stderr, "dlopen host: dlclose: %s\n", dlerror());
        return 1;
    }
    return 0;
}

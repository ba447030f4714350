/*
 * A host that dlopen()s a plugin which is itself linked against libcqueue,
 * calls it, unloads it, and does it again (libcqueue is loaded and unloaded
 * with the plugin).
 *   host_plugin PLUGIN.so
 */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: host_plugin PLUGIN.so\n");
        return 2;
    }
    for (int round = 0; round < 2; ++round) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "plugin host: %s\n", dlerror());
            return 1;
        }
        int (*run)(const char *, int);
        *(void **)(&run) = dlsym(h, "plugin_run");
        if (!run) {
            fprintf(stderr, "plugin host: %s\n", dlerror());
            return 1;
        }
        char name[64];
        snprintf(name, sizeof name, "cq-plugin-%d-%d", (int)getpid(), round);
        int got = run(name, 50);
        if (got != 50) {
            fprintf(stderr, "plugin host: round %d: plugin returned %d, expected 50\n", round, got);
            return 1;
        }
        if (dlclose(h) != 0) {
            fprintf(stderr, "plugin host: dlclose: %s\n", dlerror());
            return 1;
        }
    }
    printf("plugin host: plugin loaded twice, 50 pool jobs each, unloaded cleanly\n");
    return 0;
}

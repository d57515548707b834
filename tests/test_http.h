/* tests/test_http.h: start tools/test_http_server.py (a file server that answers 404 for
 * unknown paths and stalls on /slow/...) for tests of http(s) adapter sources. */
#ifndef OL_TEST_HTTP_H
#define OL_TEST_HTTP_H

#include "test.h"

#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

/* Serve dir on a free port of 127.0.0.1; tmp is a directory for the port file. Returns the
 * server's pid (kill it with SIGKILL and waitpid when done) and sets *port (0 on failure). */
static inline pid_t test_http_server_start(const char *dir, const char *tmp, int *port) {
    char portfile[4200], script[4200];
    snprintf(portfile, sizeof(portfile), "%s/port", tmp);
    snprintf(script, sizeof(script), "%s/../../tools/test_http_server.py", test_data(""));
    pid_t pid = fork();
    if (pid == 0) {
        execlp("python3", "python3", script, portfile, dir, (char *)NULL);
        _exit(127);
    }
    *port = 0;
    for (int i = 0; i < 1000 && pid > 0; i++) { /* up to 20 s for python to start */
        FILE *f = fopen(portfile, "r");
        if (f) {
            if (fscanf(f, "%d", port) != 1) *port = 0;
            fclose(f);
            unlink(portfile);
            break;
        }
        usleep(20000);
    }
    return pid;
}

#endif

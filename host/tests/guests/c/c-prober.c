/*
 * A hostile WASI command in C: tries what its arguments say and reports the outcome.
 *
 *   c-prober read PATH            print the file's contents
 *   c-prober write PATH TEXT      create or truncate PATH and write TEXT
 *   c-prober list DIR             print the directory's entries
 *   c-prober getenv NAME          print the variable's value
 *   c-prober args ...             print its arguments, one per line
 *   c-prober exit N               exit with status N
 *
 * Prints "ok: ..." and exits 0 when the attempt succeeded, "denied: REASON" and exits 1 when not.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int denied(const char *what) {
    printf("denied: %s: %s\n", what, strerror(errno));
    return 1;
}

static int do_read(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return denied(path);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    printf("ok: %s\n", buf);
    return 0;
}

static int do_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return denied(path);
    if (fputs(text, f) < 0 || fclose(f) != 0) return denied(path);
    printf("ok: wrote %s\n", path);
    return 0;
}

static int do_list(const char *path) {
    DIR *d = opendir(path);
    if (!d) return denied(path);
    printf("ok:");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
    return 0;
}

static int do_getenv(const char *name) {
    const char *value = getenv(name);
    if (!value) {
        printf("denied: %s is not set\n", name);
        return 1;
    }
    printf("ok: %s\n", value);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "read") == 0) return do_read(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "write") == 0) return do_write(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "list") == 0) return do_list(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "getenv") == 0) return do_getenv(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "args") == 0) {
        for (int i = 0; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "exit") == 0) exit(atoi(argv[2]));
    fprintf(stderr, "usage: c-prober read|write|list|getenv|args|exit ...\n");
    return 2;
}

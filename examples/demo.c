/* The demo: a plain C program, built for wasm32-wasi, that writes, lists and reads files.
   Under wasi.wasm every one of these files lives only in the in-memory filesystem. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int write_note(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fputs(text, f);
    return fclose(f) != 0;
}

int main(void) {
    if (mkdir("/notes", 0755) != 0) {
        perror("mkdir /notes");
        return 1;
    }
    if (write_note("/notes/hello.txt", "Hello from a WASI program!\n") ||
        write_note("/notes/shopping.txt", "eggs\nflour\nmilk\n"))
        return 1;

    printf("Files in /notes:\n");
    DIR *dir = opendir("/notes");
    if (!dir) {
        perror("opendir");
        return 1;
    }
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.') continue;
        char path[300];
        snprintf(path, sizeof path, "/notes/%s", entry->d_name);
        struct stat st;
        stat(path, &st);
        printf("  %-14s %3lld bytes\n", entry->d_name, (long long)st.st_size);
    }
    closedir(dir);

    printf("Contents of /notes/shopping.txt:\n");
    FILE *f = fopen("/notes/shopping.txt", "r");
    char line[128];
    while (f && fgets(line, sizeof line, f)) printf("  %s", line);
    if (f) fclose(f);
    return 0;
}

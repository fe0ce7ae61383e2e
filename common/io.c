/*
 * io.c: whole-file reads, atomic writes (temp + fsync + rename), mkdir -p,
 * and read-only memory maps. Every failure names the file and the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alc_common.h"

int alc_read_file(const char *path, char **out, size_t *len,
                  struct alc_diag *d)
{
    int rc = -1;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        alc_diag_errorf(d, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                alc_diag_errorf(d, "%s: out of memory", path);
                goto done;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        alc_diag_errorf(d, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (buf == NULL) {
        buf = malloc(1);
        if (buf == NULL) {
            goto done;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    fclose(f);
    return rc;
}

int alc_write_all(int fd, const void *data, size_t len, const char *what,
                  struct alc_diag *d)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            alc_diag_errorf(d, "%s: write failed: %s", what, strerror(errno));
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int alc_write_file_atomic(const char *path, const void *data, size_t len,
                          struct alc_diag *d)
{
    struct alc_sb tmp;
    int fd = -1, rc = -1;
    alc_sb_init(&tmp);
    alc_sb_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        alc_diag_errorf(d, "%s: cannot create: %s", tmp.s, strerror(errno));
        goto done;
    }
    if (alc_write_all(fd, data, len, path, d) != 0) {
        goto done;
    }
    if (fsync(fd) != 0) {
        alc_diag_errorf(d, "%s: fsync failed: %s", path, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        alc_diag_errorf(d, "%s: close failed: %s", path, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp.s, path) != 0) {
        alc_diag_errorf(d, "%s: rename failed: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0 && tmp.s != NULL) {
        unlink(tmp.s);
    }
    alc_sb_free(&tmp);
    return rc;
}

int alc_mkdir_p(const char *path, struct alc_diag *d)
{
    char *p = strdup(path);
    int rc = 0;
    if (p == NULL) {
        return -1;
    }
    for (char *s = p + 1; ; s++) {
        char c = *s;
        if (c != '/' && c != '\0') {
            continue;
        }
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            alc_diag_errorf(d, "%s: cannot create directory: %s", p,
                            strerror(errno));
            rc = -1;
            break;
        }
        *s = c;
        if (c == '\0') {
            break;
        }
    }
    free(p);
    return rc;
}

int alc_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int alc_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *alc_path_join(const char *dir, const char *name)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, dir);
    if (sb.len > 0 && sb.s[sb.len - 1] != '/') {
        alc_sb_putc(&sb, '/');
    }
    alc_sb_puts(&sb, name);
    return alc_sb_take(&sb);
}

int alc_map_file(const char *path, struct alc_map *m, struct alc_diag *d)
{
    struct stat st;
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        alc_diag_errorf(d, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        alc_diag_errorf(d, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        alc_diag_errorf(d, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
                       0);
        if (p == MAP_FAILED) {
            alc_diag_errorf(d, "%s: mmap failed: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void alc_unmap(struct alc_map *m)
{
    if (m->data != NULL) {
        munmap(m->data, m->size);
    }
    m->data = NULL;
    m->size = 0;
}

/*
 * sandstream-setuid UID -- COMMAND [ARG]...
 *
 * Runs COMMAND as user and group UID, with no supplementary groups, no capabilities and
 * no_new_privs, and refuses every UID outside [SANDBOX_UID_MIN, SANDBOX_UID_MAX]. The images give
 * this program, and nothing else, CAP_SETUID and CAP_SETGID (as file capabilities), and only the
 * service's group may run it: code that takes over the service's uid can reach the sandbox uids
 * (which own nothing), never root or another system user. The range is compiled in, so no caller
 * can widen it. Exit codes: 64 usage, 65 refused uid, 66 switching failed, 127 exec failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SANDBOX_UID_MIN
#define SANDBOX_UID_MIN 20000
#endif
#ifndef SANDBOX_UID_MAX
#define SANDBOX_UID_MAX 65535
#endif

static int fail(const char *what) {
    fprintf(stderr, "sandstream-setuid: %s: %s\n", what, strerror(errno));
    return 66;
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: sandstream-setuid UID -- COMMAND [ARG]...\n");
        return 64;
    }
    const char *text = argv[1];
    char *end = NULL;
    errno = 0;
    unsigned long long uid = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0'
            || uid < SANDBOX_UID_MIN || uid > SANDBOX_UID_MAX) {
        fprintf(stderr, "sandstream-setuid: refused uid '%s': sandbox uids are %d-%d\n", text,
                SANDBOX_UID_MIN, SANDBOX_UID_MAX);
        return 65;
    }
    if (setgroups(0, NULL) != 0) {
        return fail("setgroups");
    }
    if (setresgid((gid_t) uid, (gid_t) uid, (gid_t) uid) != 0) {
        return fail("setresgid");
    }
    if (setresuid((uid_t) uid, (uid_t) uid, (uid_t) uid) != 0) {
        return fail("setresuid");
    }
    uid_t r, e, s;
    gid_t gr, ge, gs;
    if (getresuid(&r, &e, &s) != 0 || getresgid(&gr, &ge, &gs) != 0 || r != uid || e != uid || s != uid
            || gr != uid || ge != uid || gs != uid) {
        errno = EPERM;
        return fail("uid check");
    }
    /* Drop every capability (permitted, effective, inheritable; ambient follows permitted), and
     * let nothing started from here gain privileges again (setuid bits, file capabilities). */
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &header, data) != 0) {
        return fail("capset");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return fail("no_new_privs");
    }
    execvp(argv[3], argv + 3);
    fprintf(stderr, "sandstream-setuid: cannot run %s: %s\n", argv[3], strerror(errno));
    return 127;
}

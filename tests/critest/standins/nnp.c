/*
 * A stand-in for the nonewprivs test image's entrypoint: installed setuid
 * root, it prints the effective uid it runs with. With no_new_privs set the
 * kernel ignores the setuid bit, so a container running as uid N prints N;
 * without it, 0.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
        printf("Effective uid: %d\n", (int)geteuid());
        return 0;
}

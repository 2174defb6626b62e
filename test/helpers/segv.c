/* segv: die from a real SIGSEGV (NULL store) without writing a core file. */
#include <sys/resource.h>
int main(void) {
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	/* Both volatiles matter: the pointer so the compiler cannot prove NULL (and
	 * emit a trap), the pointee so the otherwise-dead store is not dropped. */
	volatile int *volatile p = 0;
	*p = 42;
	return 0;
}

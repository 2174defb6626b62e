/* abort: die from SIGABRT via abort(3) without writing a core file. */
#include <stdlib.h>
#include <sys/resource.h>
int main(void) {
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	abort();
}

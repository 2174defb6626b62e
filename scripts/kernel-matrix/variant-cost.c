// In-kernel cost of the programs of a BPF object as one kernel would run them:
// MODE primary = the programs as on a current kernel (no `__fallback`);
// MODE fallback = every X that has an X__fallback replaced by it (older kernels).
// Attaches the tracepoint programs, waits while the caller's workload runs, and
// prints run_cnt and ns/run from bpf_stats (kernel.bpf_stats_enabled must be 1).
// Used by variant-cost.sh. usage: variant-cost OBJ SECONDS primary|fallback
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: variant-cost OBJ SECONDS primary|fallback\n");
		return 2;
	}
	int fallback = !strcmp(argv[3], "fallback");
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open %s failed\n", argv[1]);
		return 1;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		const char *n = bpf_program__name(p);
		char fb[256];
		snprintf(fb, sizeof(fb), "%s__fallback", n);
		if (strstr(n, "__fallback"))
			bpf_program__set_autoload(p, fallback);
		else if (fallback && bpf_object__find_program_by_name(obj, fb))
			bpf_program__set_autoload(p, false);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load %s failed\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(p, obj) {
		if (!bpf_program__autoload(p))
			continue;
		const char *sec = bpf_program__section_name(p);
		if (strcmp(sec, "uprobe") && strcmp(sec, "uretprobe") && !bpf_program__attach(p))
			fprintf(stderr, "attach %s failed\n", bpf_program__name(p));
	}
	sleep(atoi(argv[2]));
	bpf_object__for_each_program(p, obj) {
		if (!bpf_program__autoload(p))
			continue;
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			continue;
		printf("%-28s runs %10llu  %6.0f ns/run\n", bpf_program__name(p), (unsigned long long)info.run_cnt,
		       info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0.0);
	}
	bpf_object__close(obj);
	return 0;
}

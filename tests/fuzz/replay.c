// SPDX-License-Identifier: MIT
/*
 * Replay driver: runs a libFuzzer target's LLVMFuzzerTestOneInput over every file of a
 * corpus directory, so gcc builds exercise the committed corpus in `make check`.
 * Prints TAP: one line per corpus file. A target signals a broken invariant by abort().
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	char *names[4096];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 2;
	}
	while ((e = readdir(d)) && n < 4096)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		FILE *f;
		static uint8_t buf[1 << 20];
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		f = fopen(path, "rb");
		if (!f) {
			printf("not ok %zu - %s: cannot open\n", i + 1, names[i]);
			continue;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		fflush(stdout);
		LLVMFuzzerTestOneInput(buf, len);
		printf("ok %zu - %s\n", i + 1, names[i]);
		free(names[i]);
	}
	return 0;
}

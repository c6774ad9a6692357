// SPDX-License-Identifier: MIT
/*
 * vm.console: a guest kernel's COM1 output (virq_vm_console), read from a byte position so
 * that `virqctl vm console` can follow it. Guest bytes are not text: every byte that is not
 * part of valid UTF-8 (and NUL) becomes U+FFFD, so a reply stays valid JSON (proto.h);
 * positions count guest bytes, not characters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "daemon.h"
#include "virq/proto.h"
#include "virq/vmm.h"

#define CONSOLE_MAX 65536u

/* Guest bytes to a NUL-terminated UTF-8 string (at most 3 output bytes per input byte). */
static void sanitise(const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)in[i];
		size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

		if (c && i + len <= n && virq_proto_utf8_check(in + i, len) == len) {
			memcpy(out + o, in + i, len);
			o += len;
			i += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
}

enum virq_proto_err virqd_vm_console(struct virqd_vm *v, uint64_t from, uint64_t max, cJSON *res,
				     char *msg, size_t msglen)
{
	uint64_t next = 0, lost = 0;
	char *raw, *text;
	size_t n;

	raw = malloc(max ? max : 1);
	text = malloc(3 * (max ? max : 1) + 1);
	if (!raw || !text) {
		free(raw);
		free(text);
		snprintf(msg, msglen, "out of memory");
		return VIRQ_E_INTERNAL;
	}
	n = virq_vm_console(v->vm, from, raw, max, &next, &lost);
	sanitise(raw, n, text);
	cJSON_AddStringToObject(res, "data", text);
	cJSON_AddNumberToObject(res, "from", (double)(next - n));
	cJSON_AddNumberToObject(res, "next", (double)next);
	cJSON_AddNumberToObject(res, "lost", (double)lost);
	cJSON_AddStringToObject(res, "boot", virq_vm_boot_kind(v->vm));
	free(raw);
	free(text);
	return VIRQ_E_OK;
}

uint64_t virqd_console_max(void)
{
	return CONSOLE_MAX;
}

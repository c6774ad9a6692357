// SPDX-License-Identifier: MIT
/*
 * Scenario JSON parsing (bounded, with a length) and the VM configuration rules; the
 * committed default scenario must parse and touch every delivery path.
 */
#include "virq_test.h"
#include "virq/vmm.h"
#include "virq/vmm_guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct virq_scenario *parse(const char *js, char *err, size_t errlen)
{
	return virq_scenario_parse(js, strlen(js), err, errlen);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_default_scenario_touches_every_path(void **state)
{
	char err[160] = "";
	size_t len;
	char *js = slurp("daemon/vmm/scenarios/default.json", &len);
	struct virq_scenario *s = virq_scenario_parse(js, len, err, sizeof(err));
	bool kinds[VIRQ_ACT__COUNT] = { false };
	bool shorthands[4] = { false }, logical_msi = false, level_rte = false, edge_rte = false;

	assert_non_null(s);
	assert_string_equal(err, "");
	assert_string_equal(s->name, "default");
	assert_int_equal(s->config.nr_vcpus, 2);
	assert_int_equal(s->config.irqchip, VIRQ_IRQCHIP_KERNEL);
	for (uint32_t i = 0; i < s->nr_actions; i++) {
		const struct virq_action *a = &s->actions[i];

		kinds[a->kind] = true;
		if (a->kind == VIRQ_ACT_IPI)
			shorthands[(a->addr >> 18) & 3] = true;
		if (a->kind == VIRQ_ACT_MSI && (a->addr & 4))
			logical_msi = true;
		if (a->kind == VIRQ_ACT_IOAPIC)
			*(a->level ? &level_rte : &edge_rte) = true;
	}
	assert_true(kinds[VIRQ_ACT_MSI] && kinds[VIRQ_ACT_GSI] && kinds[VIRQ_ACT_IPI]);
	assert_true(kinds[VIRQ_ACT_TIMER] && kinds[VIRQ_ACT_NMI] && kinds[VIRQ_ACT_PIC]);
	assert_true(kinds[VIRQ_ACT_IOAPIC] && kinds[VIRQ_ACT_INIT_SIPI]);
	for (int i = 0; i < 4; i++)
		assert_true(shorthands[i]);
	assert_true(logical_msi && level_rte && edge_rte);
	assert_true(s->nr_expect >= 10);
	/* Expected vectors stay out of the PIC's boot range unless they are PIC vectors. */
	for (uint32_t i = 0; i < s->nr_expect; i++)
		assert_false(s->expect[i].vector >= VIRQ_PIC_BOOT_BASE &&
			     s->expect[i].vector < VIRQ_PIC_BOOT_BASE + 16);
	virq_scenario_free(s);
	free(js);
}

/* The built-in copy (virq_scenario_builtin) is the committed file, byte for byte. */
static void test_builtin_default_scenario_is_the_committed_file(void **state)
{
	size_t len, blen = 0;
	char *js = slurp("daemon/vmm/scenarios/default.json", &len);
	const char *b = virq_scenario_builtin("default", &blen);

	assert_non_null(b);
	assert_int_equal(blen, len);
	assert_memory_equal(b, js, len);
	errno = 0;
	assert_null(virq_scenario_builtin("no-such-scenario", &blen));
	assert_int_equal(errno, ENOENT);
	assert_null(virq_scenario_builtin(NULL, &blen));
	free(js);
}

static void test_msi_and_ipi_encodings_follow_the_sdm(void **state)
{
	char err[160];
	struct virq_scenario *s = parse(
		"{\"vm\":{\"vcpus\":4,\"x2apic\":false},\"timeline\":["
		"{\"action\":\"msi\",\"vcpu\":3,\"vector\":\"0x45\"},"
		"{\"action\":\"msi\",\"dest\":5,\"logical\":true,\"vector\":70},"
		"{\"action\":\"ipi\",\"from\":1,\"dest\":2,\"vector\":\"0x90\"},"
		"{\"action\":\"ipi\",\"from\":0,\"dest\":3,\"mode\":\"nmi\",\"shorthand\":\"all-but-self\"}"
		"]}",
		err, sizeof(err));

	assert_non_null(s);
	/* MSI address 0xFEE, dest ID in bits 19:12, DM in bit 2 (SDM 11.11.1). */
	assert_int_equal(s->actions[0].addr, 0xfee03000ull);
	assert_int_equal(s->actions[0].data, 0x45);
	assert_int_equal(s->actions[1].addr, 0xfee05004ull);
	/* xAPIC ICR: dest in 63:56, level assert bit 14, DM 10:8, shorthand 19:18. */
	assert_int_equal(s->actions[2].addr, (2ull << 56) | (1u << 14) | 0x90);
	assert_int_equal(s->actions[2].vcpu, 1);
	assert_int_equal(s->actions[3].addr, (3ull << 56) | (3u << 18) | (1u << 14) | (4u << 8));
	virq_scenario_free(s);

	/* x2APIC ICR: the 32-bit destination in 63:32 (SDM 11.12.9). */
	s = parse("{\"vm\":{\"vcpus\":2,\"x2apic\":true},\"timeline\":["
		  "{\"action\":\"ipi\",\"from\":0,\"dest\":1,\"vector\":\"0x90\"}]}",
		  err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(s->actions[0].addr, (1ull << 32) | (1u << 14) | 0x90);
	virq_scenario_free(s);
}

static void expect_reject(const char *js, const char *needle)
{
	char err[160] = "";
	struct virq_scenario *s = parse(js, err, sizeof(err));

	assert_null(s);
	assert_int_equal(errno, EINVAL);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_parser_rejects_malformed_scenarios_with_a_reason(void **state)
{
	expect_reject("{", "not a JSON object");
	expect_reject("[]", "not a JSON object");
	expect_reject("{\"vm\":{\"vcpus\":0}}", "nr_vcpus");
	expect_reject("{\"vm\":{\"vcpus\":65}}", "vcpus");
	expect_reject("{\"vm\":{\"irqchip\":\"qemu\"}}", "irqchip");
	expect_reject("{\"vm\":{\"mem_mb\":4}}", "mem_mb");
	expect_reject("{\"timeline\":[{\"action\":\"teleport\"}]}", "unknown action");
	expect_reject("{\"timeline\":[{\"action\":\"msi\",\"vcpu\":1}]}", "vcpu");
	expect_reject("{\"timeline\":[{\"action\":\"msi\",\"vector\":256}]}", "vector");
	expect_reject("{\"timeline\":[{\"action\":\"msi\",\"vector\":-1}]}", "vector");
	expect_reject("{\"timeline\":[{\"action\":\"msi\",\"vector\":1.5}]}", "vector");
	expect_reject("{\"timeline\":[{\"action\":\"msi\",\"vector\":\"0xzz\"}]}", "vector");
	expect_reject("{\"timeline\":[{\"action\":\"gsi\",\"gsi\":24,\"op\":\"pulse\"}]}", "gsi");
	expect_reject("{\"timeline\":[{\"action\":\"gsi\",\"gsi\":2,\"op\":\"wiggle\"}]}", "op");
	expect_reject("{\"timeline\":[{\"action\":\"timer\",\"vector\":3}]}", "timer vector");
	expect_reject("{\"timeline\":[{\"action\":\"pic\",\"base\":33}]}", "multiple of 8");
	expect_reject("{\"timeline\":[{\"action\":\"ipi\",\"mode\":\"extint\"}]}", "IPI mode");
	expect_reject("{\"timeline\":[{\"action\":\"init_sipi\",\"vcpu\":0}]}", "AP");
	expect_reject("{\"timeline\":[{\"action\":\"nmi\",\"repeat\":0}]}", "repeat");
	expect_reject("{\"timeline\":{}}", "array");
	expect_reject("{\"expect\":[{\"vcpu\":0,\"vector\":1}]}", "exactly one");
	expect_reject("{\"expect\":[{\"vector\":1,\"count\":1,\"at_least\":1}]}", "exactly one");
	expect_reject("{\"vm\":{\"x2apic\":1}}", "true or false");
}

static void test_parser_honours_the_length_and_the_size_bound(void **state)
{
	const char *js = "{\"name\":\"a\"}GARBAGE";
	char err[160];
	struct virq_scenario *s = virq_scenario_parse(js, 12, err, sizeof(err));
	char *big;

	assert_non_null(s);
	assert_string_equal(s->name, "a");
	assert_int_equal(s->config.nr_vcpus, 1); /* defaults */
	assert_int_equal(s->config.mem_mb, VIRQ_VM_MEM_MB_DEFAULT);
	assert_true(s->config.pv_eoi);
	virq_scenario_free(s);
	/* Cut inside the object: invalid even though the buffer continues. */
	assert_null(virq_scenario_parse(js, 8, err, sizeof(err)));

	big = malloc((1u << 20) + 2);
	assert_non_null(big);
	memset(big, ' ', (1u << 20) + 2);
	big[0] = '{';
	big[(1u << 20) + 1] = '}';
	assert_null(virq_scenario_parse(big, (1u << 20) + 2, err, sizeof(err)));
	assert_int_equal(errno, E2BIG);
	free(big);
	assert_null(virq_scenario_parse(NULL, 0, err, sizeof(err)));
	virq_scenario_free(NULL);
}

static void test_expectations_and_sync_fields_are_parsed(void **state)
{
	char err[160];
	struct virq_scenario *s = parse(
		"{\"vm\":{\"vcpus\":2},\"timeline\":[{\"action\":\"gsi\",\"gsi\":11,\"op\":\"pulse\","
		"\"repeat\":3,\"gap_us\":10,\"sync_vcpu\":1,\"sync_vector\":\"0x52\",\"sync_n\":2}],"
		"\"expect\":[{\"vcpu\":1,\"vector\":\"0x52\",\"at_least\":3},"
		"{\"vcpu\":0,\"vector\":82,\"count\":0}]}",
		err, sizeof(err));

	assert_non_null(s);
	assert_int_equal(s->actions[0].repeat, 3);
	assert_int_equal(s->actions[0].gap_us, 10);
	assert_int_equal(s->actions[0].sync_vcpu, 1);
	assert_int_equal(s->actions[0].sync_vector, 0x52);
	assert_int_equal(s->actions[0].sync_n, 2);
	assert_int_equal(s->actions[0].op, VIRQ_GSI_PULSE);
	assert_true(s->expect[0].at_least);
	assert_int_equal(s->expect[0].count, 3);
	assert_false(s->expect[1].at_least);
	assert_int_equal(s->expect[1].vector, 82);
	virq_scenario_free(s);

	s = parse("{\"timeline\":[{\"action\":\"nmi\"}]}", err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(s->actions[0].sync_vcpu, -1); /* no barrier unless asked */
	virq_scenario_free(s);
}

static void test_config_rules_and_names(void **state)
{
	struct virq_vm_config c;
	enum virq_irqchip_mode m;
	enum virq_idle_style i;
	char err[96];

	virq_vm_config_init(&c);
	assert_int_equal(virq_vm_config_check(&c, err, sizeof(err)), 0);
	c.nr_vcpus = 64;
	c.mem_mb = 0; /* default */
	assert_int_equal(virq_vm_config_check(&c, err, sizeof(err)), 0);
	c.irqchip = VIRQ_IRQCHIP__COUNT;
	assert_int_equal(virq_vm_config_check(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown irqchip mode");
	assert_int_equal(virq_vm_config_check(NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(virq_irqchip_mode_parse("split", &m), 0);
	assert_int_equal(m, VIRQ_IRQCHIP_SPLIT);
	assert_int_equal(virq_irqchip_mode_parse("SPLIT", &m), -EINVAL);
	assert_int_equal(virq_idle_style_parse("cpl3-spin", &i), 0);
	assert_int_equal(i, VIRQ_IDLE_CPL3_SPIN);
	assert_string_equal(virq_irqchip_mode_name(VIRQ_IRQCHIP_USER), "user");
	assert_string_equal(virq_vm_state_name(VIRQ_VM_STOPPED), "stopped");
	assert_string_equal(virq_action_kind_name(VIRQ_ACT_INIT_SIPI), "init_sipi");
	assert_string_equal(virq_action_kind_name(VIRQ_ACT__COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_scenario_touches_every_path),
		cmocka_unit_test(test_builtin_default_scenario_is_the_committed_file),
		cmocka_unit_test(test_msi_and_ipi_encodings_follow_the_sdm),
		cmocka_unit_test(test_parser_rejects_malformed_scenarios_with_a_reason),
		cmocka_unit_test(test_parser_honours_the_length_and_the_size_bound),
		cmocka_unit_test(test_expectations_and_sync_fields_are_parsed),
		cmocka_unit_test(test_config_rules_and_names),
	};
	return cmocka_run_group_tests_name("vmm_scenario", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* The report as JSON (libcjson), both ways. Counters are JSON numbers (doubles): exact up to
 * 2^53, which no interrupt counter of a running host reaches. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "virq/xcheck.h"

static bool add_u64(cJSON *o, const char *k, uint64_t v)
{
	return cJSON_AddNumberToObject(o, k, (double)v) != NULL;
}

static cJSON *check_to_json(const struct virq_xcheck_check *c)
{
	cJSON *o = cJSON_CreateObject(), *vals;
	bool ok;

	if (!o)
		return NULL;
	ok = cJSON_AddStringToObject(o, "vm", c->vm) &&
	     cJSON_AddStringToObject(o, "path", virq_xcheck_path_name(c->path)) &&
	     cJSON_AddStringToObject(o, "kind", virq_xcheck_kind_name(c->kind)) &&
	     cJSON_AddStringToObject(o, "verdict", virq_xcheck_verdict_name(c->verdict)) &&
	     cJSON_AddNumberToObject(o, "vcpu", c->vcpu) &&
	     cJSON_AddNumberToObject(o, "index", c->index) && add_u64(o, "expected", c->expected) &&
	     add_u64(o, "observed", c->observed) && add_u64(o, "coalesced", c->coalesced) &&
	     add_u64(o, "pending", c->pending) && add_u64(o, "misrouted", c->misrouted) &&
	     add_u64(o, "refired", c->refired);
	vals = ok ? cJSON_AddObjectToObject(o, "values") : NULL;
	ok = vals != NULL;
	for (unsigned int i = 0; ok && i < c->nr_values && i < VIRQ_XC_MAX_VALUES; i++)
		ok = add_u64(vals, c->values[i].name, c->values[i].value);
	if (ok)
		ok = cJSON_AddStringToObject(o, "detail", c->detail) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *finding_to_json(const struct virq_xcheck_finding *f)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "vm", f->vm) ||
	    !cJSON_AddStringToObject(o, "deviation", virq_xcheck_dev_name(f->kind)) ||
	    !cJSON_AddStringToObject(o, "status", virq_xcheck_dev_status_name(f->status)) ||
	    !cJSON_AddNumberToObject(o, "vcpu", f->vcpu) ||
	    !cJSON_AddNumberToObject(o, "vector", f->vector) ||
	    !add_u64(o, "positive", f->positive) || !add_u64(o, "negative", f->negative) ||
	    !add_u64(o, "count", f->count) || !cJSON_AddStringToObject(o, "detail", f->detail)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *virq_xcheck_report_to_json(const struct virq_xcheck_report *r)
{
	cJSON *root, *arr, *sum;

	if (!r) {
		errno = EINVAL;
		return NULL;
	}
	root = cJSON_CreateObject();
	if (!root)
		goto err_nomem;
	arr = cJSON_AddArrayToObject(root, "checks");
	if (!arr)
		goto err_root;
	for (uint32_t i = 0; i < r->nr_checks && i < VIRQ_XC_MAX_CHECKS; i++) {
		cJSON *c = check_to_json(&r->checks[i]);

		if (!c)
			goto err_root;
		cJSON_AddItemToArray(arr, c);
	}
	arr = cJSON_AddArrayToObject(root, "findings");
	if (!arr)
		goto err_root;
	for (uint32_t i = 0; i < r->nr_findings && i < VIRQ_XC_MAX_FINDINGS; i++) {
		cJSON *f = finding_to_json(&r->findings[i]);

		if (!f)
			goto err_root;
		cJSON_AddItemToArray(arr, f);
	}
	sum = cJSON_AddObjectToObject(root, "summary");
	if (!sum)
		goto err_root;
	for (unsigned int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
		if (!add_u64(sum, virq_xcheck_verdict_name(v), r->by_verdict[v]))
			goto err_root;
	if (!add_u64(root, "dropped_checks", r->dropped_checks) ||
	    !add_u64(root, "dropped_findings", r->dropped_findings) ||
	    !add_u64(root, "dropped_evidence", r->dropped_evidence))
		goto err_root;
	return root;

err_root:
	cJSON_Delete(root);
err_nomem:
	errno = ENOMEM;
	return NULL;
}

/* --- parsing ------------------------------------------------------------------------ */

static int number_to_u64(const cJSON *n, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(n))
		return -EINVAL;
	d = n->valuedouble;
	if (!(d >= 0) || d > 18446744073709549568.0 || d != floor(d))
		return -EINVAL;
	*out = (uint64_t)d;
	return 0;
}

static int get_u64(const cJSON *o, const char *k, uint64_t *out)
{
	return number_to_u64(cJSON_GetObjectItemCaseSensitive(o, k), out);
}

static int get_i32(const cJSON *o, const char *k, int32_t *out)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, k);
	double d;

	if (!cJSON_IsNumber(n))
		return -EINVAL;
	d = n->valuedouble;
	if (!(d >= -2147483648.0) || d > 2147483647.0 || d != floor(d))
		return -EINVAL;
	*out = (int32_t)d;
	return 0;
}

static int get_str(const cJSON *o, const char *k, char *dst, size_t n)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(s) || !s->valuestring)
		return -EINVAL;
	snprintf(dst, n, "%s", s->valuestring);
	return 0;
}

static int get_enum(const cJSON *o, const char *k, int (*parse)(const char *), uint8_t *out)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, k);
	int v;

	if (!cJSON_IsString(s))
		return -EINVAL;
	v = parse(s->valuestring);
	if (v < 0)
		return v;
	*out = (uint8_t)v;
	return 0;
}

static int check_from_json(const cJSON *o, struct virq_xcheck_check *c)
{
	const cJSON *vals, *v;
	int err;

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsObject(o))
		return -EINVAL;
	if ((err = get_str(o, "vm", c->vm, sizeof(c->vm))) ||
	    (err = get_enum(o, "path", virq_xcheck_path_parse, &c->path)) ||
	    (err = get_enum(o, "kind", virq_xcheck_kind_parse, &c->kind)) ||
	    (err = get_enum(o, "verdict", virq_xcheck_verdict_parse, &c->verdict)) ||
	    (err = get_i32(o, "vcpu", &c->vcpu)) || (err = get_i32(o, "index", &c->index)) ||
	    (err = get_u64(o, "expected", &c->expected)) ||
	    (err = get_u64(o, "observed", &c->observed)) ||
	    (err = get_u64(o, "coalesced", &c->coalesced)) ||
	    (err = get_u64(o, "pending", &c->pending)) ||
	    (err = get_u64(o, "misrouted", &c->misrouted)) ||
	    (err = get_u64(o, "refired", &c->refired)) ||
	    (err = get_str(o, "detail", c->detail, sizeof(c->detail))))
		return err;
	vals = cJSON_GetObjectItemCaseSensitive(o, "values");
	if (!cJSON_IsObject(vals))
		return -EINVAL;
	cJSON_ArrayForEach(v, vals)
	{
		struct virq_xcheck_value *dst;

		if (c->nr_values >= VIRQ_XC_MAX_VALUES)
			return -E2BIG;
		if (!v->string)
			return -EINVAL;
		dst = &c->values[c->nr_values];
		snprintf(dst->name, sizeof(dst->name), "%s", v->string);
		/* The item itself, not a lookup by name: two values may share a name. */
		if ((err = number_to_u64(v, &dst->value)))
			return err;
		c->nr_values++;
	}
	return 0;
}

static int finding_from_json(const cJSON *o, struct virq_xcheck_finding *f)
{
	int err;

	memset(f, 0, sizeof(*f));
	if (!cJSON_IsObject(o))
		return -EINVAL;
	if ((err = get_str(o, "vm", f->vm, sizeof(f->vm))) ||
	    (err = get_enum(o, "deviation", virq_xcheck_dev_parse, &f->kind)) ||
	    (err = get_enum(o, "status", virq_xcheck_dev_status_parse, &f->status)) ||
	    (err = get_i32(o, "vcpu", &f->vcpu)) || (err = get_i32(o, "vector", &f->vector)) ||
	    (err = get_u64(o, "positive", &f->positive)) ||
	    (err = get_u64(o, "negative", &f->negative)) ||
	    (err = get_u64(o, "count", &f->count)) ||
	    (err = get_str(o, "detail", f->detail, sizeof(f->detail))))
		return err;
	return 0;
}

int virq_xcheck_report_from_json(const cJSON *json, struct virq_xcheck_report *out)
{
	const cJSON *arr, *it, *sum;
	int err;

	if (!json || !out || !cJSON_IsObject(json))
		return -EINVAL;
	out->nr_checks = out->nr_findings = 0;
	memset(out->by_verdict, 0, sizeof(out->by_verdict));
	arr = cJSON_GetObjectItemCaseSensitive(json, "checks");
	if (!cJSON_IsArray(arr))
		return -EINVAL;
	if (cJSON_GetArraySize(arr) > VIRQ_XC_MAX_CHECKS)
		return -E2BIG;
	cJSON_ArrayForEach(it, arr)
	{
		err = check_from_json(it, &out->checks[out->nr_checks]);
		if (err)
			goto err_reset;
		out->nr_checks++;
	}
	arr = cJSON_GetObjectItemCaseSensitive(json, "findings");
	if (!cJSON_IsArray(arr))
		goto err_inval;
	if (cJSON_GetArraySize(arr) > VIRQ_XC_MAX_FINDINGS) {
		err = -E2BIG;
		goto err_reset;
	}
	cJSON_ArrayForEach(it, arr)
	{
		err = finding_from_json(it, &out->findings[out->nr_findings]);
		if (err)
			goto err_reset;
		out->nr_findings++;
	}
	sum = cJSON_GetObjectItemCaseSensitive(json, "summary");
	if (!cJSON_IsObject(sum))
		goto err_inval;
	for (unsigned int v = 0; v < VIRQ_XC_VERDICT__COUNT; v++)
		if ((err = get_u64(sum, virq_xcheck_verdict_name(v), &out->by_verdict[v])))
			goto err_reset;
	if ((err = get_u64(json, "dropped_checks", &out->dropped_checks)) ||
	    (err = get_u64(json, "dropped_findings", &out->dropped_findings)) ||
	    (err = get_u64(json, "dropped_evidence", &out->dropped_evidence)))
		goto err_reset;
	return 0;

err_inval:
	err = -EINVAL;
err_reset:
	out->nr_checks = out->nr_findings = 0;
	return err;
}

// SPDX-License-Identifier: MIT
/*
 * APIC bus: one destination resolver for IOAPIC entries, MSIs and IPIs (Intel SDM Vol. 3A
 * 11.6.2 "Determining IPI Destination", 11.12.10 x2APIC logical destination mode).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lapic_internal.h"

static bool irq_broadcast(const struct virq_irq *irq)
{
	/* 0xFF (xAPIC) and 0xFFFFFFFF (x2APIC) reach every LAPIC, physical or logical; an
	 * 8-bit 0xFF also means broadcast to x2APIC-mode LAPICs (as KVM's kvm_apic_mda). */
	return irq->x2apic_dest ? irq->dest == 0xFFFFFFFFu : (irq->dest & 0xFF) == 0xFF;
}

static uint32_t irq_dest(const struct virq_irq *irq)
{
	return irq->x2apic_dest ? irq->dest : irq->dest & 0xFF;
}

static bool lapic_is_x2(const struct virq_lapic *l)
{
	return virq_lapic_mode(l) == VIRQ_LAPIC_X2APIC;
}

/* The specification of matching, used by the slow path and by nothing else: the fast
 * maps below must agree with it (tests compare both). */
static bool match_dest(const struct virq_lapic *t, const struct virq_irq *irq)
{
	uint32_t d = irq_dest(irq);

	if (irq_broadcast(irq))
		return true;
	if (!irq->dest_logical)
		return lapic_is_x2(t) ? d == t->initial_id : d == t->id;
	if (lapic_is_x2(t)) /* SDM 11.12.10.2: cluster in [31:16], member bits in [15:0] */
		return (d >> 16) == (t->ldr >> 16) && (d & t->ldr & 0xFFFF);
	switch (t->dfr >> 28) {
	case 0xF: /* flat model (SDM 11.6.2.2): any common bit of the 8-bit logical ID */
		return (d & (t->ldr >> 24)) != 0;
	case 0x0: /* cluster model: cluster in [7:4], member bits in [3:0] */
		return (d >> 4) == (t->ldr >> 28) && (d & (t->ldr >> 24) & 0xF);
	default:
		return false;
	}
}

void virq_apicbus_map_dirty(struct virq_apicbus *bus)
{
	if (bus)
		bus->dirty = true;
}

static struct virq_lapic **ltab_slot(struct virq_apicbus *bus, unsigned int cluster,
				     unsigned int bit)
{
	return &bus->ltab[cluster * 16 + bit];
}

/* Rebuild the physical and logical maps, O(nr_cpus + clusters), like kvm_recalculate_apic_map. */
static void map_rebuild(struct virq_apicbus *bus)
{
	enum apicbus_lmode mode = APICBUS_LMODE_NONE;

	memset(bus->phys, 0, bus->phys_cap * sizeof(*bus->phys));
	memset(bus->ltab, 0, (size_t)bus->lclusters * 16 * sizeof(*bus->ltab));
	bus->phys_ok = true;
	bus->nr_enabled = 0;
	for (unsigned int i = 0; i < bus->nr; i++) {
		struct virq_lapic *l = &bus->lapics[i];
		enum apicbus_lmode want;
		unsigned int id, cluster, bits;

		if (virq_lapic_mode(l) == VIRQ_LAPIC_DISABLED)
			continue;
		bus->enabled[bus->nr_enabled++] = (uint16_t)i;
		id = lapic_is_x2(l) ? l->initial_id : l->id;
		if (id >= bus->phys_cap || bus->phys[id])
			bus->phys_ok = false; /* duplicate IDs: scan */
		else
			bus->phys[id] = l;

		if (lapic_is_x2(l)) {
			want = APICBUS_LMODE_X2;
			cluster = l->initial_id >> 4;
			bits = 1u << (l->initial_id & 0xF);
		} else if (l->dfr >> 28 == 0xF) {
			want = APICBUS_LMODE_FLAT;
			cluster = 0;
			bits = l->ldr >> 24;
		} else if (l->dfr >> 28 == 0x0) {
			want = APICBUS_LMODE_CLUSTER;
			cluster = l->ldr >> 28;
			bits = (l->ldr >> 24) & 0xF;
		} else {
			want = APICBUS_LMODE_SLOW;
			cluster = bits = 0;
		}
		if (mode == APICBUS_LMODE_SLOW)
			continue;
		if (mode != APICBUS_LMODE_NONE && mode != want) {
			mode = APICBUS_LMODE_SLOW;
			continue;
		}
		mode = want;
		if (mode == APICBUS_LMODE_SLOW || !bits)
			continue;
		/* One member bit per LAPIC and one LAPIC per bit, or the map cannot answer. */
		if ((bits & (bits - 1)) || cluster >= bus->lclusters ||
		    *ltab_slot(bus, cluster, __builtin_ctz(bits))) {
			mode = APICBUS_LMODE_SLOW;
			continue;
		}
		*ltab_slot(bus, cluster, __builtin_ctz(bits)) = l;
	}
	bus->lmode = mode;
	bus->dirty = false;
	bus->stats.map_rebuilds++;
}

static unsigned int resolve_slow(struct virq_apicbus *bus, const struct virq_irq *irq,
				 uint16_t *out)
{
	unsigned int n = 0;

	bus->stats.slow_path++;
	for (unsigned int i = 0; i < bus->nr_enabled; i++)
		if (match_dest(&bus->lapics[bus->enabled[i]], irq))
			out[n++] = bus->enabled[i];
	return n;
}

static unsigned int resolve_logical(struct virq_apicbus *bus, const struct virq_irq *irq,
				    uint16_t *out)
{
	uint32_t d = irq_dest(irq), cluster, bits;
	unsigned int n = 0;

	switch (bus->lmode) {
	case APICBUS_LMODE_NONE:
		return 0;
	case APICBUS_LMODE_FLAT:
		cluster = 0;
		bits = d & 0xFF;
		break;
	case APICBUS_LMODE_CLUSTER:
		cluster = (d >> 4) & 0xF;
		bits = d & 0xF;
		break;
	case APICBUS_LMODE_X2:
		cluster = d >> 16;
		bits = d & 0xFFFF;
		break;
	default:
		return resolve_slow(bus, irq, out);
	}
	if (cluster >= bus->lclusters)
		return 0;
	/* Ascending member-bit order: KVM's bitmap order for vector hashing. */
	while (bits) {
		struct virq_lapic *l = *ltab_slot(bus, cluster, __builtin_ctz(bits));

		if (l)
			out[n++] = (uint16_t)l->cpu;
		bits &= bits - 1;
	}
	return n;
}

/* Of two LAPICs tied at the lowest arbitration priority, does `a` win over `b`? The one
 * that won longest ago (lowest arbitration priority after the SDM's rotation: a winner
 * goes to the lowest), then the lower APIC ID. */
static bool arb_tie_wins(const struct virq_lapic *a, const struct virq_lapic *b)
{
	if (a->arb_stamp != b->arb_stamp)
		return a->arb_stamp < b->arb_stamp;
	return virq_lapic_id(a) < virq_lapic_id(b);
}

/* SDM 11.6.2.4: choose one of the n candidates in out[] for lowest-priority delivery. */
static unsigned int lowest_priority(struct virq_apicbus *bus, const struct virq_irq *irq,
				    uint16_t *out, unsigned int n)
{
	int best = -1;
	uint32_t best_apr = 0;

	if (bus->cfg.lowprio == VIRQ_LOWPRIO_KVM_HASH) {
		/* kvm_vector_to_index(): the (vector % m)-th of the m software-enabled
		 * candidates (KVM's logical map and its slow path both leave software-
		 * disabled APICs out), in the order resolve() produced (KVM's order). */
		unsigned int m = 0;

		for (unsigned int i = 0; i < n; i++)
			if (virq_lapic_sw_enabled(&bus->lapics[out[i]]))
				out[m++] = out[i];
		if (m)
			out[0] = out[irq->vector % m];
		bus->stats.lowprio_hashed++;
		return 1;
	}
	/* Focus processor: already servicing or holding this vector (SVR[9] = 0). */
	for (unsigned int i = 0; i < n; i++) {
		const struct virq_lapic *l = &bus->lapics[out[i]];

		if (!virq_lapic_sw_enabled(l) || (l->svr & VIRQ_SVR_FOCUS_DISABLE) ||
		    !virq_lapic_vector_in_service_or_pending(l, irq->vector))
			continue;
		if (best < 0 || virq_lapic_id(l) < virq_lapic_id(&bus->lapics[out[best]]))
			best = (int)i;
	}
	if (best >= 0) {
		bus->stats.lowprio_focus++;
		out[0] = out[best];
		return 1;
	}
	/* Lowest arbitration priority among LAPICs able to accept; ties rotate. */
	for (unsigned int i = 0; i < n; i++) {
		const struct virq_lapic *l = &bus->lapics[out[i]];
		uint32_t apr;

		if (!virq_lapic_sw_enabled(l))
			continue;
		apr = virq_lapic_apr(l);
		if (best < 0 || apr < best_apr ||
		    (apr == best_apr && arb_tie_wins(l, &bus->lapics[out[best]]))) {
			best = (int)i;
			best_apr = apr;
		}
	}
	bus->stats.lowprio_arbitrated++;
	out[0] = out[best < 0 ? 0 : best];
	return 1;
}

/* Resolve into out[] (room for nr entries); returns the number of targets. */
static unsigned int resolve(struct virq_apicbus *bus, const struct virq_irq *irq,
			    const struct virq_lapic *src, uint16_t *out)
{
	unsigned int n = 0;

	if (bus->dirty)
		map_rebuild(bus);
	switch (irq->shorthand) {
	case VIRQ_SH_SELF:
		if (src)
			out[n++] = (uint16_t)src->cpu;
		return n; /* one target: no arbitration */
	case VIRQ_SH_ALL_INCL_SELF:
	case VIRQ_SH_ALL_EXCL_SELF:
		for (unsigned int i = 0; i < bus->nr_enabled; i++)
			if (irq->shorthand == VIRQ_SH_ALL_INCL_SELF || !src ||
			    bus->enabled[i] != src->cpu)
				out[n++] = bus->enabled[i];
		break;
	default:
		if (irq_broadcast(irq)) {
			memcpy(out, bus->enabled, bus->nr_enabled * sizeof(*out));
			n = bus->nr_enabled;
		} else if (irq->dest_logical) {
			n = resolve_logical(bus, irq, out);
		} else if (bus->phys_ok) {
			uint32_t d = irq_dest(irq);

			if (d < bus->phys_cap && bus->phys[d])
				out[n++] = (uint16_t)bus->phys[d]->cpu;
		} else {
			n = resolve_slow(bus, irq, out);
		}
		break;
	}
	if (n > 1 && (irq->delivery_mode == VIRQ_DM_LOWEST || irq->redir_hint))
		n = lowest_priority(bus, irq, out, n);
	return n;
}

static int dispatch(struct virq_apicbus *bus, const struct virq_irq *irq,
		    const struct virq_lapic *src)
{
	unsigned int n;
	int reached = 0, err = -ENOENT;
	bool coalesced = false;

	bus->stats.messages++;
	bus->stats.per_path[irq->path < VIRQ_PATH__COUNT ? irq->path : VIRQ_PATH_OTHER]++;
	n = resolve(bus, irq, src, bus->scratch);
	if (!n) {
		bus->stats.no_target++;
		return -ENOENT;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct virq_lapic *l = &bus->lapics[bus->scratch[i]];
		int r = virq_lapic_accept(l, irq);

		/* The winner of a lowest-priority arbitration that took the interrupt moves
		 * to the back of the rotation (SDM 11.6.2.4 / 11.7; see arb_tie_wins). */
		if (r > 0 && (irq->delivery_mode == VIRQ_DM_LOWEST || irq->redir_hint))
			l->arb_stamp = ++bus->arb_seq;
		if (r > 0)
			reached += r;
		else if (r == 0)
			coalesced = true;
		else
			err = r;
	}
	/* As kvm_irq_delivery_to_apic(): reached CPUs, else 0 if any merged, else refused. */
	if (reached) {
		bus->stats.reached += (uint64_t)reached;
		return reached;
	}
	if (coalesced) {
		bus->stats.coalesced++;
		return VIRQ_RES_COALESCED;
	}
	bus->stats.rejected++;
	return err;
}

int virq_apicbus_send(struct virq_apicbus *bus, const struct virq_irq *irq, struct virq_lapic *src)
{
	return dispatch(bus, irq, src);
}

static const struct virq_lapic *find_src(struct virq_apicbus *bus, const struct virq_irq *irq)
{
	if (irq->shorthand == VIRQ_SH_NONE)
		return NULL;
	if (bus->dirty)
		map_rebuild(bus);
	for (unsigned int i = 0; i < bus->nr_enabled; i++) {
		const struct virq_lapic *l = &bus->lapics[bus->enabled[i]];

		if (virq_lapic_id(l) == irq->src_apic_id)
			return l;
	}
	return NULL;
}

int virq_apicbus_deliver(struct virq_apicbus *bus, const struct virq_irq *irq)
{
	return dispatch(bus, irq, find_src(bus, irq));
}

int virq_apicbus_resolve(struct virq_apicbus *bus, const struct virq_irq *irq, int src_cpu,
			 uint16_t *cpus, unsigned int max)
{
	const struct virq_lapic *src = NULL;
	unsigned int n;

	if (src_cpu >= 0 && (unsigned int)src_cpu < bus->nr)
		src = &bus->lapics[src_cpu];
	n = resolve(bus, irq, src, bus->scratch);
	if (!n)
		return -ENOENT;
	memcpy(cpus, bus->scratch, (n < max ? n : max) * sizeof(*cpus));
	return (int)n;
}

void virq_apicbus_notify(struct virq_apicbus *bus, unsigned int cpu, uint32_t events)
{
	if (bus->cfg.ops && bus->cfg.ops->notify)
		bus->cfg.ops->notify(bus->cfg.opaque, cpu, events);
}

int virq_apicbus_extint_ack(struct virq_apicbus *bus, unsigned int cpu)
{
	if (bus->cfg.ops && bus->cfg.ops->extint_ack)
		return bus->cfg.ops->extint_ack(bus->cfg.opaque, cpu);
	return -ENODEV;
}

void virq_apicbus_eoi_broadcast(struct virq_apicbus *bus, uint8_t vector)
{
	virq_sink_eoi(&bus->cfg.eoi_sink, vector);
}

void virq_apicbus_set_pic_int(struct virq_apicbus *bus, bool level)
{
	for (unsigned int i = 0; i < bus->nr; i++)
		virq_lapic_set_lint(&bus->lapics[i], 0, level);
}

static int sink_deliver(void *opaque, const struct virq_irq *irq)
{
	return virq_apicbus_deliver(opaque, irq);
}

static void sink_pic_int(void *opaque, bool level)
{
	virq_apicbus_set_pic_int(opaque, level);
}

static const struct virq_sink_ops apicbus_sink_ops = {
	.deliver = sink_deliver,
	.pic_int = sink_pic_int,
};

void virq_apicbus_sink(struct virq_apicbus *bus, struct virq_sink *sink)
{
	sink->ops = &apicbus_sink_ops;
	sink->opaque = bus;
}

struct virq_apicbus *virq_apicbus_new(const struct virq_apicbus_config *cfg)
{
	struct virq_apicbus *bus;
	uint32_t max_id = 0;

	if (!cfg || !cfg->nr_cpus || cfg->nr_cpus > VIRQ_APICBUS_MAX_CPUS ||
	    cfg->lowprio > VIRQ_LOWPRIO_KVM_HASH) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned int i = 0; i < cfg->nr_cpus; i++) {
		uint32_t id = cfg->apic_ids ? cfg->apic_ids[i] : i;

		/* 0xFF and above are broadcast in xAPIC; x2APIC-only IDs need x2APIC. */
		if (id > VIRQ_APICBUS_MAX_APIC_ID || id == 0xFF ||
		    (id > 0xFF && !cfg->lapic.x2apic_supported)) {
			errno = EINVAL;
			return NULL;
		}
		for (unsigned int j = 0; j < i; j++)
			if (cfg->apic_ids && cfg->apic_ids[j] == id) {
				errno = EINVAL;
				return NULL;
			}
		if (id > max_id)
			max_id = id;
	}
	bus = calloc(1, sizeof(*bus));
	if (!bus)
		goto err_nomem;
	bus->cfg = *cfg;
	bus->nr = cfg->nr_cpus;
	bus->phys_cap = max_id < 256 ? 256 : max_id + 1;
	bus->lclusters = (max_id >> 4) + 1 < 16 ? 16 : (max_id >> 4) + 1;
	bus->lapics = calloc(bus->nr, sizeof(*bus->lapics));
	if (!bus->lapics)
		goto err_free_bus;
	bus->phys = calloc(bus->phys_cap, sizeof(*bus->phys));
	if (!bus->phys)
		goto err_free_lapics;
	bus->ltab = calloc((size_t)bus->lclusters * 16, sizeof(*bus->ltab));
	if (!bus->ltab)
		goto err_free_phys;
	bus->enabled = calloc(bus->nr, sizeof(*bus->enabled));
	if (!bus->enabled)
		goto err_free_ltab;
	bus->scratch = calloc(bus->nr, sizeof(*bus->scratch));
	if (!bus->scratch)
		goto err_free_enabled;
	for (unsigned int i = 0; i < bus->nr; i++)
		virq_lapic_init(&bus->lapics[i], bus, i, cfg->apic_ids ? cfg->apic_ids[i] : i,
				i == 0, &cfg->lapic);
	map_rebuild(bus);
	return bus;

err_free_enabled:
	free(bus->enabled);
err_free_ltab:
	free(bus->ltab);
err_free_phys:
	free(bus->phys);
err_free_lapics:
	free(bus->lapics);
err_free_bus:
	free(bus);
err_nomem:
	errno = ENOMEM;
	return NULL;
}

void virq_apicbus_free(struct virq_apicbus *bus)
{
	if (!bus)
		return;
	free(bus->scratch);
	free(bus->enabled);
	free(bus->ltab);
	free(bus->phys);
	free(bus->lapics);
	free(bus);
}

int virq_apicbus_set_lowprio(struct virq_apicbus *bus, enum virq_lowprio_mode mode)
{
	if (mode != VIRQ_LOWPRIO_SDM && mode != VIRQ_LOWPRIO_KVM_HASH)
		return -EINVAL;
	bus->cfg.lowprio = mode;
	return 0;
}

enum virq_lowprio_mode virq_apicbus_lowprio(const struct virq_apicbus *bus)
{
	return bus->cfg.lowprio;
}

unsigned int virq_apicbus_nr_cpus(const struct virq_apicbus *bus)
{
	return bus->nr;
}

struct virq_lapic *virq_apicbus_lapic(struct virq_apicbus *bus, unsigned int cpu)
{
	return cpu < bus->nr ? &bus->lapics[cpu] : NULL;
}

const struct virq_apicbus_stats *virq_apicbus_stats(const struct virq_apicbus *bus)
{
	return &bus->stats;
}

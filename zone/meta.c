/* zone/meta.c -- which framework and task each task record came from (/v1/enumerate). */
#include "zone/meta.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "zone/arena.h"
#include "zone/dname.h"
#include "zone/zone.h"

struct zone_meta *zone_meta_new(void)
{
	struct zone_meta *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->arena = arena_new(64 * 1024);
	if (!m->arena) {
		free(m);
		return NULL;
	}
	return m;
}

void zone_meta_free(struct zone_meta *m)
{
	if (!m)
		return;
	arena_free(m->arena);
	free(m->frameworks);
	free(m->tasks);
	free(m->records);
	free(m);
}

/* Make room for one more element of an array; 0 or MDNS_ENOMEM. */
static int grow(void **v, size_t n, size_t *cap, size_t elem)
{
	return array_reserve(v, cap, n + 1, elem);
}

int zone_meta_expect(struct zone_meta *m, size_t ntasks, size_t nrecords)
{
	if (array_reserve((void **)&m->tasks, &m->captasks, ntasks + ntasks / 8,
			  sizeof(*m->tasks)) != 0 ||
	    array_reserve((void **)&m->records, &m->caprecords, nrecords + nrecords / 8,
			  sizeof(*m->records)) != 0)
		return MDNS_ENOMEM;
	return 0;
}

int zone_meta_framework(struct zone_meta *m, const char *name)
{
	m->in_task = 0;
	if (grow((void **)&m->frameworks, m->nframeworks, &m->capframeworks,
		 sizeof(*m->frameworks)) != 0)
		return MDNS_ENOMEM;
	struct zone_meta_framework *f = &m->frameworks[m->nframeworks];
	f->name = arena_strdup(m->arena, name ? name : "");
	if (!f->name)
		return MDNS_ENOMEM;
	f->first = m->ntasks;
	f->n = 0;
	m->nframeworks++;
	return 0;
}

int zone_meta_task(struct zone_meta *m, const char *name, const char *id)
{
	m->in_task = 0;
	if (m->nframeworks == 0)
		return MDNS_EINVAL;
	if (grow((void **)&m->tasks, m->ntasks, &m->captasks, sizeof(*m->tasks)) != 0)
		return MDNS_ENOMEM;
	struct zone_meta_task *t = &m->tasks[m->ntasks];
	t->name = arena_strdup(m->arena, name ? name : "");
	t->id = arena_strdup(m->arena, id ? id : "");
	if (!t->name || !t->id)
		return MDNS_ENOMEM;
	t->first = m->nrecords;
	t->n = 0;
	m->ntasks++;
	m->frameworks[m->nframeworks - 1].n++;
	m->in_task = 1;
	return 0;
}

void zone_meta_task_end(struct zone_meta *m)
{
	m->in_task = 0;
}

int zone_meta_record(struct zone_meta *m, const uint8_t *owner, uint16_t type,
		     const uint8_t *rdata, uint16_t rdlen)
{
	if (!m->in_task)
		return 0;
	if (grow((void **)&m->records, m->nrecords, &m->caprecords, sizeof(*m->records)) != 0)
		return MDNS_ENOMEM;
	struct zone_meta_record *r = &m->records[m->nrecords++];
	r->name = owner;
	r->namelen = (uint8_t)dname_len(owner);
	r->rdata = rdata;
	r->rdlen = rdlen;
	r->type = type;
	m->tasks[m->ntasks - 1].n++;
	return 0;
}

static int record_cmp(const void *x, const void *y)
{
	const struct zone_meta_record *a = x, *b = y;

	if (a->name != b->name) {	/* the zone interns owners: equal names, one pointer */
		size_t la = a->namelen, lb = b->namelen;
		int c = memcmp(a->name, b->name, la < lb ? la : lb);
		if (c)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	int c = memcmp(a->rdata, b->rdata, a->rdlen < b->rdlen ? a->rdlen : b->rdlen);
	return c ? c : (int)a->rdlen - (int)b->rdlen;
}

void zone_meta_finish(struct zone_meta *m)
{
	size_t out = 0;

	m->in_task = 0;
	/* Tasks own consecutive runs of records in order, so compacting in place
	 * only ever moves records towards the front. */
	for (size_t i = 0; i < m->ntasks; i++) {
		struct zone_meta_task *t = &m->tasks[i];
		size_t n = 0;

		if (t->n == 0) {	/* no records (and perhaps no array at all) */
			t->first = out;
			continue;
		}
		struct zone_meta_record *r = m->records + t->first;

		/* A task has a dozen records or so: insertion sort them. */
		if (t->n > 16) {
			qsort(r, t->n, sizeof(*r), record_cmp);
		} else {
			for (size_t k = 1; k < t->n; k++) {
				struct zone_meta_record x = r[k];
				size_t j = k;
				for (; j > 0 && record_cmp(&r[j - 1], &x) > 0; j--)
					r[j] = r[j - 1];
				r[j] = x;
			}
		}
		for (size_t k = 0; k < t->n; k++)
			if (n == 0 || record_cmp(&r[n - 1], &r[k]) != 0)
				r[n++] = r[k];
		memmove(m->records + out, r, n * sizeof(*r));
		t->first = out;
		t->n = n;
		out += n;
	}
	m->nrecords = out;
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

int zone_meta_same(const struct zone_meta *a, const struct zone_meta *b)
{
	if (!a || !b)
		return a == b;
	if (a->nframeworks != b->nframeworks || a->ntasks != b->ntasks ||
	    a->nrecords != b->nrecords)
		return 0;
	for (size_t i = 0; i < a->nframeworks; i++) {
		const struct zone_meta_framework *x = &a->frameworks[i], *y = &b->frameworks[i];
		if (x->first != y->first || x->n != y->n || !same_str(x->name, y->name))
			return 0;
	}
	for (size_t i = 0; i < a->ntasks; i++) {
		const struct zone_meta_task *x = &a->tasks[i], *y = &b->tasks[i];
		if (x->first != y->first || x->n != y->n || !same_str(x->name, y->name) ||
		    !same_str(x->id, y->id))
			return 0;
	}
	for (size_t i = 0; i < a->nrecords; i++) {
		const struct zone_meta_record *x = &a->records[i], *y = &b->records[i];
		if (x->type != y->type || x->namelen != y->namelen || x->rdlen != y->rdlen ||
		    memcmp(x->name, y->name, x->namelen) != 0 ||
		    memcmp(x->rdata, y->rdata, x->rdlen) != 0)
			return 0;
	}
	return 1;
}

char *zone_meta_name(const struct zone_meta_record *r, char *buf, size_t len)
{
	return dname_to_text(r->name, buf, len);
}

char *zone_meta_host(const struct zone_meta_record *r, char *buf, size_t len)
{
	char target[DNAME_TEXT_MAX + 2];

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if ((r->type == RR_A && r->rdlen == 4) || (r->type == RR_AAAA && r->rdlen == 16)) {
		inet_ntop(r->type == RR_A ? AF_INET : AF_INET6, r->rdata, buf, (socklen_t)len);
	} else if (r->type == RR_SRV && r->rdlen > 6) {
		dname_to_text(r->rdata + 6, target, sizeof(target));
		snprintf(buf, len, "%s:%u", target, (unsigned)(r->rdata[4] << 8 | r->rdata[5]));
	}
	return buf;
}

const char *zone_meta_type_name(uint16_t type)
{
	switch (type) {
	case RR_A: return "A";
	case RR_AAAA: return "AAAA";
	case RR_SRV: return "SRV";
	case RR_NS: return "NS";
	case RR_SOA: return "SOA";
	default: return "OTHER";
	}
}

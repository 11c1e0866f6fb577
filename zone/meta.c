/* zone/meta.c -- which framework and task each task record came from (/v1/enumerate). */
#include "zone/meta.h"

#include <ctype.h>
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
	free(m->itab);
	free(m->frameworks);
	free(m->tasks);
	free(m->records);
	free(m);
}

/* Make room for one more element of an array; 0 or MDNS_ENOMEM. */
static int grow(void **v, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return MDNS_ENOMEM;
	*v = nv;
	*cap = nc;
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

/* The arena copy of s (len bytes, NUL added), shared by equal strings; NULL on no memory. */
static const char *intern(struct zone_meta *m, const char *s, size_t len)
{
	if (m->nitab * 2 >= m->itabsize) {
		size_t ns = m->itabsize ? m->itabsize * 2 : 4096;
		const char **nt = calloc(ns, sizeof(*nt));
		if (!nt)
			return NULL;
		for (size_t i = 0; i < m->itabsize; i++) {
			if (!m->itab[i])
				continue;
			uint64_t h = 0xcbf29ce484222325ULL;
			for (const char *p = m->itab[i]; *p; p++)
				h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
			size_t j = h & (ns - 1);
			while (nt[j])
				j = (j + 1) & (ns - 1);
			nt[j] = m->itab[i];
		}
		free(m->itab);
		m->itab = nt;
		m->itabsize = ns;
	}
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	size_t j = h & (m->itabsize - 1);
	for (; m->itab[j]; j = (j + 1) & (m->itabsize - 1))
		if (strncmp(m->itab[j], s, len) == 0 && m->itab[j][len] == '\0')
			return m->itab[j];
	char *c = arena_bytes(m->arena, s, len + 1);
	if (!c)
		return NULL;
	c[len] = '\0';
	m->itab[j] = c;
	m->nitab++;
	return c;
}

int zone_meta_record(struct zone_meta *m, const char *owner, uint16_t type, const char *host)
{
	char name[DNAME_TEXT_MAX + 2], data[DNAME_TEXT_MAX + 16];

	if (!m->in_task)
		return 0;
	if (grow((void **)&m->records, m->nrecords, &m->caprecords, sizeof(*m->records)) != 0)
		return MDNS_ENOMEM;
	size_t ol = strlen(owner), dl = strlen(host);
	while (ol && owner[ol - 1] == '.')
		ol--;
	if (ol + 1 >= sizeof(name) || dl >= sizeof(data))
		return 0;	/* longer than any name in a zone: nothing to list */
	for (size_t i = 0; i < ol; i++)
		name[i] = (char)tolower((unsigned char)owner[i]);
	name[ol] = '.';
	for (size_t i = 0; i < dl; i++)
		data[i] = (char)tolower((unsigned char)host[i]);
	struct zone_meta_record *r = &m->records[m->nrecords];
	r->name = intern(m, name, ol + 1);
	r->host = intern(m, data, dl);
	if (!r->name || !r->host)
		return MDNS_ENOMEM;
	r->type = type;
	m->nrecords++;
	m->tasks[m->ntasks - 1].n++;
	return 0;
}

static int record_cmp(const void *x, const void *y)
{
	const struct zone_meta_record *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return strcmp(a->host, b->host);
}

void zone_meta_finish(struct zone_meta *m)
{
	size_t out = 0;

	m->in_task = 0;
	free(m->itab);	/* the strings stay; only the building index goes */
	m->itab = NULL;
	m->itabsize = m->nitab = 0;
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

		qsort(r, t->n, sizeof(*r), record_cmp);
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

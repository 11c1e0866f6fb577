/* lib/zonecfg.c -- the zone and record settings that come from the config. */
#include "lib/zonecfg.h"

#include <string.h>

#include "lib/config.h"
#include "zone/records.h"
#include "zone/zone.h"

void zonecfg_params(const struct config *cfg, struct zone_params *p)
{
	memset(p, 0, sizeof(*p));
	p->domain = cfg->domain;
	p->ttl = cfg->ttl;
	p->soa_minttl = cfg->soa_minttl;
	p->soa_mname = cfg->soa_mname;
	p->soa_rname = cfg->soa_rname;
	p->soa_refresh = cfg->soa_refresh;
	p->soa_retry = cfg->soa_retry;
	p->soa_expire = cfg->soa_expire;
	p->recurse_on = cfg->recurse_on;
	p->set_tc = cfg->set_truncate_bit;
	p->edns_max = cfg->edns_udp_size;
	p->no_history = cfg->transfer_to.n == 0;
}

void zonecfg_records(const struct config *cfg, struct records_config *rc)
{
	memset(rc, 0, sizeof(*rc));
	rc->domain = cfg->domain;
	rc->rfc952 = cfg->enforce_rfc952;
	rc->srv_weight = cfg->srv_default_weight;
	rc->ip_sources = cfg->ip_sources;
	rc->nip_sources = cfg->nip_sources;
	rc->soa_mname = cfg->soa_mname;
	rc->enumerate = cfg->enumeration_on;
	rc->health_aware = cfg->health_aware;
}

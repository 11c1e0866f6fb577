/* lib/zonecfg.h -- the zone and record settings that come from the config. */
#pragma once

struct config;
struct zone_params;
struct records_config;

/* Fill p from cfg; strings are borrowed from cfg. */
void zonecfg_params(const struct config *cfg, struct zone_params *p);

/*
 * Fill the config-derived fields of rc (domain, label mode, SRV weight,
 * IPSources, SOAMname, EnumerationOn, healthAware) and clear the rest: the caller sets masters, ns_ips
 * and the resolver.  Strings are borrowed from cfg.
 */
void zonecfg_records(const struct config *cfg, struct records_config *rc);

/*
 * sbc_tenant - the live index in shared memory and its atomic reload
 *
 * The live index is one shm block reached through one pointer in shm.
 * A reload builds a complete new block beside it, then swaps the pointer
 * and bumps a generation number. Readers never take a lock:
 *
 *   reader (SIP worker, RPC)              reloader (serialized by a lock)
 *   slot[me] = gen; re-check gen          active = new
 *   idx = active                          old_gen = gen++
 *   ... lookup, copy the result ...       wait until no slot holds a
 *   slot[me] = 0                              generation <= old_gen
 *                                         free(old)
 *
 * With sequentially consistent atomics, a reader that got the old pointer
 * published its slot before the reloader scans the slots, so the old block
 * is freed only once no process can still be reading it. A reader holds
 * its slot for one lookup (microseconds); a reloader that still finds a
 * slot busy after SBCT_DRAIN_TIMEOUT_MS (a process stuck or dead while
 * reading) leaks the old block instead of freeing memory in use.
 *
 * Slots are per process (process_no), one cache line each so that workers
 * do not bounce each other's lines. They are allocated in
 * child_init(PROC_INIT), once the number of processes is final.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../core/dprint.h"
#include "../../core/locking.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/pt.h"

#include "sbct_db.h"
#include "sbct_reload.h"

#define SBCT_DRAIN_TIMEOUT_MS 10000
#define SBCT_DRAIN_SLEEP_US 200

typedef struct sbct_slot
{
	uint64_t gen; /* 0 = not reading */
	char pad[64 - sizeof(uint64_t)];
} sbct_slot_t;

typedef struct sbct_shared
{
	sbct_index_t *active; /* atomic */
	uint64_t gen;		  /* atomic, starts at 1 */
	sbct_slot_t *slots;
	int nslots;
	sbct_reload_stats_t stats; /* written under the lock */
} sbct_shared_t;

static sbct_shared_t *_sbct_sh = NULL;
static gen_lock_t *_sbct_reload_lock = NULL;
static unsigned long _sbct_shm_reserve = 0;

/* A reload must not eat the shared memory the SIP workers need: a large
 * builder allocation that would leave less than 1/16 of the pool free is
 * refused, the reload fails and the live index stays. */
#define SBCT_BIG_ALLOC (256 * 1024)

static void *sbct_shm_alloc(size_t size, void *ctx)
{
	(void)ctx;
	if(size >= SBCT_BIG_ALLOC && shm_available() < size + _sbct_shm_reserve) {
		LM_WARN("not taking %lu bytes: less than %lu bytes of shm would be"
				" left\n",
				(unsigned long)size, _sbct_shm_reserve);
		return NULL;
	}
	return shm_malloc(size);
}

static void sbct_shm_free(void *p, void *ctx)
{
	(void)ctx;
	shm_free(p);
}

static const sbct_alloc_t sbct_shm_allocator = {
		sbct_shm_alloc, sbct_shm_free, NULL};

int sbct_shared_init(void)
{
	struct mem_info mi;

	shm_info(&mi);
	_sbct_shm_reserve = mi.total_size / 16;
	_sbct_sh = shm_malloc(sizeof(sbct_shared_t));
	if(_sbct_sh == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_sbct_sh, 0, sizeof(sbct_shared_t));
	_sbct_sh->gen = 1;
	_sbct_reload_lock = lock_alloc();
	if(_sbct_reload_lock == NULL || lock_init(_sbct_reload_lock) == NULL) {
		LM_ERR("cannot create the reload lock\n");
		return -1;
	}
	return 0;
}

int sbct_slots_init(int nprocs)
{
	sbct_slot_t *slots;

	if(_sbct_sh == NULL || nprocs <= 0)
		return -1;
	slots = shm_malloc(sizeof(sbct_slot_t) * (size_t)nprocs);
	if(slots == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(slots, 0, sizeof(sbct_slot_t) * (size_t)nprocs);
	_sbct_sh->nslots = nprocs;
	__atomic_store_n(&_sbct_sh->slots, slots, __ATOMIC_SEQ_CST);
	LM_DBG("%d reader slots\n", nprocs);
	return 0;
}

void sbct_shared_destroy(void)
{
	if(_sbct_reload_lock) {
		lock_destroy(_sbct_reload_lock);
		lock_dealloc(_sbct_reload_lock);
		_sbct_reload_lock = NULL;
	}
	if(_sbct_sh) {
		if(_sbct_sh->active)
			shm_free(_sbct_sh->active);
		if(_sbct_sh->slots)
			shm_free(_sbct_sh->slots);
		shm_free(_sbct_sh);
		_sbct_sh = NULL;
	}
}

/* ---- readers --------------------------------------------------------- */

static sbct_slot_t *sbct_my_slot(void)
{
	sbct_slot_t *slots;

	if(_sbct_sh == NULL)
		return NULL;
	slots = __atomic_load_n(&_sbct_sh->slots, __ATOMIC_SEQ_CST);
	if(slots == NULL || process_no < 0 || process_no >= _sbct_sh->nslots)
		return NULL;
	return &slots[process_no];
}

const sbct_index_t *sbct_reader_enter(void)
{
	sbct_slot_t *slot = sbct_my_slot();
	uint64_t g, g2;

	if(slot == NULL) {
		/* only before the slots exist (mod_init, main process): nobody
		 * can reload concurrently then */
		if(_sbct_sh == NULL || _sbct_sh->slots != NULL) {
			LM_ERR("process %d has no reader slot\n", process_no);
			return NULL;
		}
		return __atomic_load_n(&_sbct_sh->active, __ATOMIC_SEQ_CST);
	}
	g = __atomic_load_n(&_sbct_sh->gen, __ATOMIC_SEQ_CST);
	for(;;) {
		__atomic_store_n(&slot->gen, g, __ATOMIC_SEQ_CST);
		g2 = __atomic_load_n(&_sbct_sh->gen, __ATOMIC_SEQ_CST);
		if(g2 == g)
			break;
		g = g2; /* a swap happened meanwhile: publish the newer one */
	}
	return __atomic_load_n(&_sbct_sh->active, __ATOMIC_SEQ_CST);
}

void sbct_reader_leave(void)
{
	sbct_slot_t *slot = sbct_my_slot();

	if(slot)
		__atomic_store_n(&slot->gen, 0, __ATOMIC_SEQ_CST);
}

/* ---- reloader -------------------------------------------------------- */

static uint64_t sbct_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* wait until no reader can hold an index of generation <= old_gen;
 * returns 0, or -1 on timeout */
static int sbct_drain_readers(uint64_t old_gen)
{
	sbct_slot_t *slots = __atomic_load_n(&_sbct_sh->slots, __ATOMIC_SEQ_CST);
	uint64_t start = sbct_now_ms(), v;
	int i;

	if(slots == NULL)
		return 0;
	for(i = 0; i < _sbct_sh->nslots; i++) {
		for(;;) {
			v = __atomic_load_n(&slots[i].gen, __ATOMIC_SEQ_CST);
			if(v == 0 || v > old_gen)
				break;
			if(sbct_now_ms() - start > SBCT_DRAIN_TIMEOUT_MS) {
				LM_ERR("process %d still reads index generation %llu after"
					   " %d ms\n",
						i, (unsigned long long)v, SBCT_DRAIN_TIMEOUT_MS);
				return -1;
			}
			usleep(SBCT_DRAIN_SLEEP_US);
		}
	}
	return 0;
}

static void sbct_log_dup(uint32_t kept, uint32_t dropped, void *ctx)
{
	uint32_t *n = ctx;

	if((*n)++ < 100)
		LM_WARN("did_routing row id=%u skipped: same pattern as row id=%u"
				" (higher priority, or same priority and lower id)\n",
				dropped, kept);
}

/* build a complete new index from the database; NULL + reason on error */
static sbct_index_t *sbct_build_from_db(
		sbct_reload_info_t *info, char *reason, int reason_size)
{
	sbct_builder_t *b;
	sbct_index_t *idx = NULL;
	sbct_db_counts_t c;
	sbct_build_stats_t st;
	uint32_t dups_logged = 0;
	uint64_t t0;

	b = sbct_builder_new(&sbct_shm_allocator);
	if(b == NULL) {
		snprintf(reason, reason_size, "out of shared memory");
		return NULL;
	}
	sbct_builder_set_dup_cb(b, sbct_log_dup, &dups_logged);
	memset(&c, 0, sizeof(c));
	t0 = sbct_now_ms();
	if(sbct_db_load(b, &c, reason, reason_size) == 0) {
		info->db_ms = sbct_now_ms() - t0;
		idx = sbct_builder_finish(b, &st);
		info->build_ms = sbct_now_ms() - t0 - info->db_ms;
		if(idx == NULL)
			snprintf(reason, reason_size,
					"out of shared memory building the index (%u rows)", c.dids);
	}
	sbct_builder_free(b);
	if(idx == NULL)
		return NULL;
	info->tenants = st.tenants;
	info->dids = st.dids;
	info->duplicates = st.duplicates;
	info->skipped = c.tenants_skipped + st.tenant_duplicates + c.dids_skipped
					+ st.duplicates;
	info->disabled = c.dids_disabled;
	info->index_bytes = st.block_size;
	info->has_version = c.has_version;
	info->version = c.version;
	return idx;
}

static void sbct_note_attempt(sbct_reload_stats_t *st, int trigger, int ok,
		uint64_t duration_ms, const char *reason)
{
	st->last_time = time(NULL);
	st->last_ok = ok;
	st->last_trigger = trigger;
	st->last_duration_ms = duration_ms;
	snprintf(st->last_reason, sizeof(st->last_reason), "%s", reason);
}

int sbct_reload(int trigger, sbct_reload_info_t *info, char *reason,
		int reason_size)
{
	sbct_reload_stats_t *st;
	sbct_index_t *idx, *old;
	uint64_t t0, old_gen;

	if(_sbct_sh == NULL || _sbct_reload_lock == NULL) {
		snprintf(reason, reason_size, "module not initialized");
		return -1;
	}
	memset(info, 0, sizeof(*info));
	reason[0] = '\0';
	st = &_sbct_sh->stats;
	lock_get(_sbct_reload_lock);
	t0 = sbct_now_ms();
	idx = sbct_build_from_db(info, reason, reason_size);
	if(idx == NULL) {
		st->reloads_failed++;
		sbct_note_attempt(st, trigger, 0, sbct_now_ms() - t0, reason);
		lock_release(_sbct_reload_lock);
		LM_ERR("reload (%s) failed, keeping the current index: %s\n",
				sbct_trigger_str(trigger), reason);
		return -1;
	}
	old = __atomic_load_n(&_sbct_sh->active, __ATOMIC_SEQ_CST);
	__atomic_store_n(&_sbct_sh->active, idx, __ATOMIC_SEQ_CST);
	old_gen = __atomic_fetch_add(&_sbct_sh->gen, 1, __ATOMIC_SEQ_CST);
	if(old) {
		if(sbct_drain_readers(old_gen) == 0)
			shm_free(old);
		else
			LM_ERR("old index (%llu bytes) not freed: still in use\n",
					(unsigned long long)sbct_index_size(old));
	}
	info->duration_ms = sbct_now_ms() - t0;
	st->reloads_ok++;
	st->dids_loaded = info->dids;
	st->rows_skipped = info->skipped;
	st->rows_disabled = info->disabled;
	st->index_bytes = info->index_bytes;
	st->live_has_version = info->has_version;
	st->live_version = info->version;
	st->live_time = time(NULL);
	st->live_duration_ms = info->duration_ms;
	st->live_db_ms = info->db_ms;
	st->live_build_ms = info->build_ms;
	sbct_note_attempt(st, trigger, 1, info->duration_ms, "");
	lock_release(_sbct_reload_lock);
	LM_INFO("index loaded (%s, version %lld): %u tenants, %u DIDs, %u rows"
			" skipped, %u disabled, %llu bytes, %llu ms (database %llu ms,"
			" build %llu ms)\n",
			sbct_trigger_str(trigger),
			info->has_version ? (long long)info->version : -1LL,
			info->tenants, info->dids, info->skipped, info->disabled,
			(unsigned long long)info->index_bytes,
			(unsigned long long)info->duration_ms,
			(unsigned long long)info->db_ms,
			(unsigned long long)info->build_ms);
	return 0;
}

void sbct_reload_stats(sbct_reload_stats_t *st)
{
	if(_sbct_sh == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	/* word-sized fields, written under the lock (or by the one timer
	 * process): a torn read across fields is harmless for statistics; the
	 * strings are cut at their last byte whatever was read */
	*st = _sbct_sh->stats;
	st->last_reason[sizeof(st->last_reason) - 1] = '\0';
	st->check_error[sizeof(st->check_error) - 1] = '\0';
}

int sbct_live_version(uint64_t *version)
{
	int has;

	if(_sbct_sh == NULL)
		return 0;
	lock_get(_sbct_reload_lock);
	has = _sbct_sh->stats.live_has_version;
	*version = _sbct_sh->stats.live_version;
	lock_release(_sbct_reload_lock);
	return has;
}

void sbct_note_version_check(int ok, uint64_t version, const char *error)
{
	sbct_reload_stats_t *st;

	if(_sbct_sh == NULL)
		return;
	st = &_sbct_sh->stats;
	st->version_checks++;
	if(ok) {
		st->db_has_version = 1;
		st->db_version = version;
		st->check_error[0] = '\0';
	} else {
		st->version_check_errors++;
		snprintf(st->check_error, sizeof(st->check_error), "%s", error);
	}
}

void sbct_note_timer_reload(int ok)
{
	if(_sbct_sh == NULL)
		return;
	if(ok)
		_sbct_sh->stats.timer_reloads_ok++;
	else
		_sbct_sh->stats.timer_reloads_failed++;
}

const char *sbct_trigger_str(int trigger)
{
	switch(trigger) {
		case SBCT_TRIGGER_START:
			return "start";
		case SBCT_TRIGGER_RPC:
			return "rpc";
		case SBCT_TRIGGER_TIMER:
			return "change";
	}
	return "unknown";
}

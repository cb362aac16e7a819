/* Bank-level DRAM command scheduler: the C kernel behind accelsim/hw/dram_kernel.py.
 *
 * What it models, what it ignores, and every array's layout are documented in dram_kernel.py
 * (the Python side: constants, state layout, the ctypes bindings). This file is built by
 * `pip install` (setup.py: the extension accelsim.hw._dram_kernel) and called through ctypes:
 * plain C99, int64 arrays in, state arrays updated in place, nothing allocated.
 *
 * All channels advance in lock step, one loop iteration per DRAM clock tCK, with a jump over
 * ticks where nothing can happen. Times are integer ticks; nothing here knows ns.
 *
 * dram_kernel_avx2.c compiles this file a second time for x86 CPUs with AVX2, as
 * dram_simulate_batch_avx2 (DRAM_KERNEL_VARIANT: the batch only); dram_kernel.py calls it where
 * dram_cpu_has_avx2() says the CPU can run it. Both give the same results.
 */

#include <stddef.h>
#include <stdint.h>

typedef int64_t i64;
typedef uint8_t u8;

/* Command ids: the `commands` list of the standard file (COMMAND_NAMES in dram_kernel.py). */
enum { ACT, PRE, PREA, RD, WR, RDA, WRA, REF, N_COMMANDS };
enum { N_LEVELS = 4 };
enum { HIT, MISS, CONFLICT };

#define NEVER (-((i64)1 << 50))   /* "no command yet" in the history */
#define NO_RULE (-((i64)1 << 60)) /* "no rule" in the dense rows of the per-command table */
#define FAR ((i64)1 << 60)        /* "not ready in this batch" */

/* Indices into the parameter vector `par` (P_* in dram_kernel.py). */
enum { P_CHANNELS, P_PCS, P_BGS, P_BANKS, P_RQ, P_WQ, P_AQ, P_PQ, P_WR_HIGH, P_WR_LOW,
       P_READ_LAT, P_WRITE_LAT, P_REFI, P_RFC, P_CLOSED_PAGE, P_FRONTEND, P_HIST, P_PER_BANK_REF,
       P_RREFD };

/* Per-channel statistics chst[c * N_CH_STATS + S_*] (Chan.stats during a batch). */
enum { S_READS, S_WRITES, S_HITS, S_MISSES, S_CONFLICTS, S_ACTS, S_PRES, S_REFS, S_LAST_TICK,
       S_TURNS, N_CH_STATS };

/* Per-channel counters Chan.cnt[C_*] (N_COUNTS in dram_kernel.py). */
enum { C_RN, C_WN, C_AN, C_WAKE, C_HQ_R, C_HQ_W, C_AQ_WAKE, C_PLEN = 7, C_PWAKE = 9,
       C_PMASK = 11, N_COUNTS = 13 };

/* A channel during a batch (work array `counts`, CHAN_WORDS int64 per channel, its counters
 * first): the counters, copies of its part of the device state (next refresh tick, REFs queued,
 * write mode, statistics; in at the start of the batch and back at its end), and pointers to its
 * queues (scratch: their first plane, the read / write queue's head, the active queue), its
 * refresh queue (state pq) and its node's ready clocks. NOTE(perf): see scripts/bench_dram.py --
 * the controller loop steps one pointer per channel, where arrays indexed by channel made GCC
 * step a dozen pointers, kept on the stack; and a queue's head is a pointer, not an index to
 * scale and add on every visit. */
typedef struct {
    i64 cnt[N_COUNTS];
    i64 next_ref, pq_n, write_mode;
    i64 stats[N_CH_STATS];
    i64 *q, *pq, *clk;
    i64 *head[2], *aq;
} Chan;
enum { CHAN_WORDS = 32 };
typedef char chan_has_chan_words[sizeof(Chan) == CHAN_WORDS * sizeof(i64) ? 1 : -1];

/* Channel c's queues: planes of `slots` entries at scratch + (c * N_PLANES + plane) * slots, the
 * request ids and the keys of the read (qi = 0), write (qi = 1) and active queue, and the arrival
 * ticks of the active queue's requests. The read and write queues start at their head
 * (Chan.head[qi], in the ids plane) in a plane twice their capacity; a queue's keys are
 * KEYS_AT(ids) (kofs = Q_KEYS * slots: the keys plane is that far from the ids plane), the active
 * queue's arrival ticks `aofs` from its ids. An active-queue key carries its direction in bit
 * WRITE_BIT (rows < 2^30, hbm.py). */
enum { Q_IDS = 0, Q_ACTIVE = 2, Q_KEYS = 3, Q_ARRIVE = 6, N_PLANES = 7 };
#define WRITE_BIT 31
#define KEYS_AT(ids) ((ids) + kofs)
#define ROW_OF(key) ((key) & 0x7FFFFFFF)   /* a key's row (without an active entry's WRITE_BIT) */

/* Layout of the per-command rule table `fast` (command_rule_table in dram_kernel.py). */
enum { F_WPTR = 0, F_WINDOWED = N_COMMANDS * N_LEVELS + 1, F_DENSE = F_WINDOWED + N_COMMANDS };

#define RARELY(cond) __builtin_expect(!!(cond), 0)
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

#if defined(_WIN32)
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

/* A bank during a batch (work array `banks`, 64 bytes per bank): the ready clocks of its node for
 * the commands in HOT_SLOT (ACT, PRE, RD, WR: the device state's, copied in at the start of the
 * batch and back at its end, load_banks / store_banks; its other commands' clocks stay in
 * `ready`), a lower bound on the tick its next row command can issue (row_bound), its open row
 * (-1: closed; copied like the clocks), and per read (0) and write (1) queue the XOR of the rows
 * queued for it (with one request queued: its row, queued_of_key), then the activated requests
 * waiting on it, and per queue the row hits and the requests queued. NOTE(perf): see
 * scripts/bench_dram.py -- one cache line holds all a scan, a pick or a command reads or writes of
 * the bank: not nine arrays indexed by bank (whose entries for one bank, a power of two apart,
 * also competed for the same L1 sets), nor a second line for its clocks and one for its open
 * row. The counts fit 16 bits: queues hold at most 4096 requests (hbm.py), and a bank at most
 * one activated request (nothing activates an open bank, nothing closes it while one waits). */
typedef struct {
    i64 clk[4];
    i64 row_lb;
    int32_t open_row, rows_xor[2];
    int16_t active, hits[2], queued[2], unused;
} Bank;
typedef char bank_is_one_line[sizeof(Bank) == 64 ? 1 : -1];

/* Slot of a command's ready clock in Bank.clk (ACT 0, PRE 1, RD 2, WR 3), or -1: in `ready`. */
static const int HOT_SLOT[N_COMMANDS] = {0, 1, -1, 2, 3, -1, -1, -1};

/* The window-1 rules of each bank command as dense rows of latencies, one lane per next command
 * (NO_RULE: no rule, so the max leaves the clock as it is): row[cmd][where] for the clocks of the
 * channel (where 0), the pseudo channel (1) and the bank group (2) in `ready`, of the bank's
 * Bank.clk (3: lanes in HOT_SLOT order, four used) and of its node in `ready` (4: the commands
 * not in HOT_SLOT). Bit 2 * where + half of live[cmd] is set when that row's half (lanes 0-3,
 * 4-7) holds a rule; live_column is live[RD] | live[WR]. */
typedef struct {
    i64 row[N_COMMANDS][5][N_COMMANDS];
    int live[N_COMMANDS], live_column;
} BankRules;

/* The device: timing clocks ready[node * N_COMMANDS + cmd] (a bank's HOT_SLOT commands' in its
 * Bank record instead: bank_clock), the command history hist[(node * N_COMMANDS + cmd) *
 * hist_len + w] (newest first), the banks, the node numbering (offs: first node of each level)
 * and the rule tables. */
typedef struct {
    i64 *restrict ready, *restrict hist;
    Bank *restrict bk;
    const i64 *restrict offs, *restrict fast, *con_ptr, *con_next, *con_lat, *con_win;
    i64 n_bgs, n_banks, hist_len;
    int bg_shift, pc_shift;   /* flat bank index >> shift = flat bank group / pseudo channel */
    i64 pc_node0, bg_node0, bank_node0;   /* offs[1..3], the first node of each level */
    const BankRules *rules;   /* fast's dense rows per command and clock array (BankRules) */
} Device;

/* The rules of fast's dense rows (F_DENSE), regrouped per issued command and clock array
 * (BankRules), but for those to a next command in the bit set `dead`: commands this replay never
 * issues and never asks the ready tick of. NOTE(perf): see scripts/bench_dram.py -- with an open
 * page policy RDA and WRA, with per-bank refresh PREA and REF; their clocks go stale, unread, and
 * a row half left with no rule is not raised at all. */
static void list_bank_rules(BankRules *br, const i64 *fast, int dead)
{
    for (int cmd = 0; cmd < N_COMMANDS; cmd++) {
        br->live[cmd] = 0;
        for (int where = 0; where < 5; where++)
            for (int next = 0; next < N_COMMANDS; next++)
                br->row[cmd][where][next] = NO_RULE;
        for (int level = 0; level < N_LEVELS; level++) {
            for (int next = 0; next < N_COMMANDS; next++) {
                i64 lat = fast[F_DENSE + (cmd * N_LEVELS + level) * N_COMMANDS + next];
                if (lat == NO_RULE || (dead >> next & 1))
                    continue;
                int hot = level == 3 && HOT_SLOT[next] >= 0;
                int where = hot ? 3 : level < 3 ? level : 4;
                br->row[cmd][where][hot ? HOT_SLOT[next] : next] = lat;
                br->live[cmd] |= 1 << (2 * where + (hot ? 0 : next / 4));
            }
        }
    }
    br->live_column = br->live[RD] | br->live[WR];
}

static int log2_of(i64 v)   /* bank groups and banks per group are powers of two (hbm.py) */
{
    int s = 0;
    while (((i64)1 << s) < v)
        s++;
    return s;
}

static Device make_device(i64 *ready, i64 *hist, i64 hist_len, Bank *bk, const i64 *offs,
                          const i64 *fast, const i64 *con_ptr, const i64 *con_next,
                          const i64 *con_lat, const i64 *con_win, i64 n_bgs, i64 n_banks)
{
    Device d = {ready, hist, bk, offs, fast, con_ptr, con_next, con_lat, con_win, n_bgs,
                n_banks, hist_len, log2_of(n_banks), log2_of(n_bgs * n_banks), offs[1], offs[2],
                offs[3], 0};
    return d;
}

/* Ready clock of `cmd` on the node of flat bank `bank`. */
static inline i64 *bank_clock(const Device *d, i64 bank, i64 cmd)
{
    int slot = HOT_SLOT[cmd];
    if (slot >= 0)
        return &d->bk[bank].clk[slot];
    return &d->ready[(d->bank_node0 + bank) * N_COMMANDS + cmd];
}

/* Ready clock of `cmd` on `node` (any level). */
static inline i64 *node_clock(const Device *d, i64 node, i64 cmd)
{
    return node >= d->bank_node0 ? bank_clock(d, node - d->bank_node0, cmd)
                                 : &d->ready[node * N_COMMANDS + cmd];
}

/* The banks' clocks and open rows from the device state into their records, and back. */
static void load_banks(const Device *d, i64 n_bank_nodes, const i64 *open_row)
{
    for (i64 b = 0; b < n_bank_nodes; b++) {
        d->bk[b].open_row = (int32_t)open_row[b];
        for (int cmd = 0; cmd < N_COMMANDS; cmd++)
            if (HOT_SLOT[cmd] >= 0)
                d->bk[b].clk[HOT_SLOT[cmd]] = d->ready[(d->bank_node0 + b) * N_COMMANDS + cmd];
    }
}

static void store_banks(const Device *d, i64 n_bank_nodes, i64 *open_row)
{
    for (i64 b = 0; b < n_bank_nodes; b++) {
        open_row[b] = d->bk[b].open_row;
        for (int cmd = 0; cmd < N_COMMANDS; cmd++)
            if (HOT_SLOT[cmd] >= 0)
                d->ready[(d->bank_node0 + b) * N_COMMANDS + cmd] = d->bk[b].clk[HOT_SLOT[cmd]];
    }
}

/* Node path of flat bank `bank` on channel c: the pseudo channel, bank group and bank nodes. */
#define PC_NODE(d, bank) ((d)->pc_node0 + ((bank) >> (d)->pc_shift))
#define BG_NODE(d, bank) ((d)->bg_node0 + ((bank) >> (d)->bg_shift))
#define BANK_NODE(d, bank) ((d)->bank_node0 + (bank))

/* ------------------------------------------------------------------ timing rules (generic) */

/* One key (level, cmd) of the CSR rule table, issued at t on `node`. */
static void apply_rules(const Device *d, i64 node, i64 level, i64 cmd, i64 t)
{
    i64 k0 = d->con_ptr[level * N_COMMANDS + cmd];
    i64 k1 = d->con_ptr[level * N_COMMANDS + cmd + 1];
    if (k0 == k1)
        return;
    i64 *h = d->hist + (node * N_COMMANDS + cmd) * d->hist_len;
    /* the history is read only by windowed rules, sorted first in their key */
    if (d->con_win[k0] > 1) {
        for (i64 w = d->hist_len - 1; w > 0; w--)
            h[w] = h[w - 1];
        h[0] = t;
    }
    for (i64 k = k0; k < k1; k++) {
        i64 w = d->con_win[k];
        i64 past = w == 1 ? t : h[w - 1];
        if (past > NEVER) {
            i64 v = past + d->con_lat[k];
            i64 *clock = node_clock(d, node, d->con_next[k]);
            if (v > *clock)
                *clock = v;
        }
    }
}

/* Record `cmd` issued at tick t on the node path (n0 channel, n1 PC, n2 BG, n3 bank): every
 * rule's ready clock and the bank state. PREA/REF (n2 = n3 = -1) act on every bank group and
 * bank of the pseudo channel. */
static void issue_command(const Device *d, i64 cmd, i64 t, i64 n0, i64 n1, i64 n2, i64 n3,
                          i64 row)
{
    const i64 *offs = d->offs;
    apply_rules(d, n0, 0, cmd, t);
    apply_rules(d, n1, 1, cmd, t);
    if (n2 >= 0) {
        apply_rules(d, n2, 2, cmd, t);
        apply_rules(d, n3, 3, cmd, t);
        i64 b = n3 - offs[3];
        if (cmd == ACT)
            d->bk[b].open_row = (int32_t)row;
        else if (cmd == PRE || cmd == RDA || cmd == WRA)
            d->bk[b].open_row = -1;
        return;
    }
    i64 pc = n1 - offs[1];
    i64 g0 = offs[2] + pc * d->n_bgs;
    for (i64 g = g0; g < g0 + d->n_bgs; g++)
        apply_rules(d, g, 2, cmd, t);
    i64 b0 = pc * d->n_bgs * d->n_banks;
    for (i64 b = b0; b < b0 + d->n_bgs * d->n_banks; b++) {
        apply_rules(d, offs[3] + b, 3, cmd, t);
        if (cmd == PREA)
            d->bk[b].open_row = -1;
    }
}

/* ------------------------------------------------------------- timing rules (bank commands) */

/* The windowed rules fast[k0:k1] (triples next, latency, window) of one key: record t in the
 * history and measure each rule from the command `window - 1` issues back. */
static inline void apply_windowed(const Device *d, i64 node, i64 cmd, i64 t, i64 k0, i64 k1)
{
    if (k0 == k1)
        return;
    i64 *h = d->hist + (node * N_COMMANDS + cmd) * d->hist_len;
    for (i64 w = d->hist_len - 1; w > 0; w--)
        h[w] = h[w - 1];
    h[0] = t;
    for (i64 k = k0; k < k1; k += 3) {
        i64 past = h[d->fast[k + 2] - 1];
        if (past > NEVER) {
            i64 *clock = node_clock(d, node, d->fast[k]);
            *clock = MAX(*clock, past + d->fast[k + 1]);
        }
    }
}

/* clock[k] = max(clock[k], t + lat[k]) for k < 4. */
typedef i64 v4 __attribute__((vector_size(32)));
static inline __attribute__((always_inline)) void raise4(i64 *clock, const i64 *lat, i64 t)
{
    v4 c, l;
    __builtin_memcpy(&c, clock, sizeof c);
    __builtin_memcpy(&l, lat, sizeof l);
    v4 x = l + t;
    v4 m = x > c;
    c = (x & m) | (c & ~m);
    __builtin_memcpy(clock, &c, sizeof c);
}

/* issue_command for a command on one bank (ACT, PRE, RD, WR, RDA, WRA): the same clocks.
 * NOTE(perf): see scripts/bench_dram.py -- each clock array's row of eight ready clocks raised
 * as two four-lane maxima (raise4) against the command's dense latency row, the halves with no
 * rule skipped (`live`); no table walk; the history only for commands with a windowed rule.
 * Every rule is a max into a ready clock, so the order in which rules apply does not matter. */
static inline __attribute__((always_inline)) void issue_bank_command_k(const Device *d, i64 cmd,
                                                                       i64 t, i64 n0, i64 bank,
                                                                       i64 row, int live)
{
    const i64 *fast = d->fast;
    i64 n1 = PC_NODE(d, bank), n2 = BG_NODE(d, bank), n3 = BANK_NODE(d, bank);
    i64 *ready = d->ready;
    const i64 (*lat)[N_COMMANDS] = d->rules->row[cmd];
    i64 *clocks[5] = {ready + n0 * N_COMMANDS, ready + n1 * N_COMMANDS, ready + n2 * N_COMMANDS,
                      d->bk[bank].clk, ready + n3 * N_COMMANDS};
#define RAISE_HALF(where, half) \
    if (live >> (2 * (where) + (half)) & 1) \
        raise4(clocks[where] + 4 * (half), lat[where] + 4 * (half), t)
    RAISE_HALF(0, 0); RAISE_HALF(0, 1);
    RAISE_HALF(1, 0); RAISE_HALF(1, 1);
    RAISE_HALF(2, 0); RAISE_HALF(2, 1);
    RAISE_HALF(3, 0);
    RAISE_HALF(4, 0); RAISE_HALF(4, 1);
#undef RAISE_HALF
    if (fast[F_WINDOWED + cmd] != 0) {
        const i64 *w = fast + F_WPTR + cmd * N_LEVELS;
        apply_windowed(d, n0, cmd, t, w[0], w[1]);
        apply_windowed(d, n1, cmd, t, w[1], w[2]);
        apply_windowed(d, n2, cmd, t, w[2], w[3]);
        apply_windowed(d, n3, cmd, t, w[3], w[4]);
    }
    if (cmd == ACT)
        d->bk[bank].open_row = (int32_t)row;
    else if (cmd == PRE || cmd == RDA || cmd == WRA)
        d->bk[bank].open_row = -1;
}
/* NOTE(perf): see scripts/bench_dram.py -- ACT, PRE and the column commands each their own copy
 * of the raises: the tests of `live` in a copy always go the same way, so they are predicted. */
static void issue_bank_command(const Device *d, i64 cmd, i64 t, i64 n0, i64 bank, i64 row)
{
    const int *live = d->rules->live;
    switch (cmd) {
    case ACT: issue_bank_command_k(d, ACT, t, n0, bank, row, live[ACT]); break;
    case PRE: issue_bank_command_k(d, PRE, t, n0, bank, row, live[PRE]); break;
    case RD:
    case WR:
        /* NOTE(perf): see scripts/bench_dram.py -- one copy for both, whose rows (either's)
         * are raised whichever it is: mixed traffic draws RD or WR at random */
        issue_bank_command_k(d, cmd, t, n0, bank, row, d->rules->live_column);
        break;
    default: issue_bank_command_k(d, cmd, t, n0, bank, row, live[cmd]); break;
    }
}

/* Earliest tick a command on flat bank `bank` of channel c meets the rules of the levels above
 * the bank (channel, pseudo channel, bank group). */
static inline i64 upper_ready(const Device *d, i64 cmd, i64 c, i64 bank)
{
    const i64 *ready = d->ready;
    i64 t = ready[c * N_COMMANDS + cmd];
    t = MAX(t, ready[PC_NODE(d, bank) * N_COMMANDS + cmd]);
    return MAX(t, ready[BG_NODE(d, bank) * N_COMMANDS + cmd]);
}

/* Earliest tick a command on flat bank `bank` of channel c meets every rule. */
static inline i64 bank_path_ready(const Device *d, i64 cmd, i64 c, i64 bank)
{
    return MAX(upper_ready(d, cmd, c, bank), *bank_clock(d, bank, cmd));
}

/* bank_path_ready of a column command (RD or WR: Bank.clk[cmd - 1], as HOT_SLOT has it), or a
 * lower bound on it when that already shows the command cannot issue at clk. NOTE(perf): see
 * scripts/bench_dram.py -- the bank's own clock first (after an ACT it holds tRCD, the bound that
 * mostly decides): while it is > clk the other three levels need not be read. Callers use the
 * value as "wake no earlier than", which a lower bound keeps safe. */
static inline i64 column_ready(const Device *d, i64 cmd, i64 c, i64 bank, i64 clk)
{
    i64 t = d->bk[bank].clk[cmd - 1];
    return t > clk ? t : MAX(t, upper_ready(d, cmd, c, bank));
}

/* ready tick of `cmd` on its node path (n1, n2 are those of bank n3); all banks of the pseudo
 * channel for PREA/REF (n2 = n3 = -1). */
static i64 ready_tick(const Device *d, i64 cmd, i64 n0, i64 n1, i64 n2, i64 n3)
{
    if (n2 >= 0)
        return bank_path_ready(d, cmd, n0, n3 - d->bank_node0);
    const i64 *ready = d->ready, *offs = d->offs;
    i64 t = MAX(ready[n0 * N_COMMANDS + cmd], ready[n1 * N_COMMANDS + cmd]);
    i64 pc = n1 - offs[1];
    i64 g0 = offs[2] + pc * d->n_bgs;
    for (i64 g = g0; g < g0 + d->n_bgs; g++)
        t = MAX(t, ready[g * N_COMMANDS + cmd]);
    i64 b0 = pc * d->n_bgs * d->n_banks;
    for (i64 b = b0; b < b0 + d->n_bgs * d->n_banks; b++)
        t = MAX(t, *bank_clock(d, b, cmd));
    return t;
}

/* ------------------------------------------------------------------------------- queues */

/* The row bound Bank.row_lb: no queued request of the bank that is not a row hit can issue its
 * row command before this tick. That command is the bank's state's: PRE if it is open
 * (FAR while an activated request waits on it: no PRE then), ACT if closed; so every change of
 * the bank's state (open row, activated requests) sets the bound again, or to NEVER. row_bound
 * is the exact tick (every level's clocks), which the row scan takes once the bound has come.
 * NOTE(perf): see scripts/bench_dram.py -- one bound per bank whatever its state, so the row scan
 * reads it alongside the open row instead of after it (which of ACT / PRE) and without the
 * activated count. */
static inline i64 row_bound(const Device *d, const Bank *bk, i64 c, i64 bank)
{
    if (bk[bank].open_row < 0)
        return bank_path_ready(d, ACT, c, bank);
    return bk[bank].active > 0 ? FAR : bank_path_ready(d, PRE, c, bank);
}

/* Set the bank's row bound after a command on it, which left it closed (ACT next) or open (PRE
 * next): the bank's own clock for that command, which the command just raised (tRP, tRAS, tRTP,
 * tWR...) and which mostly decides. NOTE(perf): see scripts/bench_dram.py -- the caller knows
 * which state (the command it issued): no branch on the open row, which random traffic makes
 * unpredictable (PRE, ACT, column command in turn); and no read of the levels above, which the
 * scan's exact path reads only if the bound comes while the request is still queued (Bank.clk's
 * slots of ACT and PRE are their command ids, HOT_SLOT). */
static inline void bound_closed_bank(Bank *bk, i64 bank)
{
    bk[bank].row_lb = bk[bank].clk[ACT];
}

static inline void bound_open_bank(Bank *bk, i64 bank)
{
    bk[bank].row_lb = bk[bank].active > 0 ? FAR : bk[bank].clk[PRE];
}

/* FR-FCFS column pick in the active queue (aqk / arrive: channel c's keys, arrival ticks;
 * NOTE(perf): see scripts/bench_dram.py -- the direction in the key and the arrival tick in the
 * queue, not read from the request arrays): the oldest ready entry. Every entry is a row hit:
 * nothing closes a bank an activated request waits on (row_bound gives no PRE, a refresh waits,
 * an RDA / WRA counts the bank's active entries), so no entry is checked against its open row.
 * Returns the slot or -1; *cmd_out = RD/WR; *wake_out = earliest
 * tick at which an entry other than the pick may be ready (clk if another is ready now). */
static inline i64 scan_active(const Device *d, const i64 *aqk, const i64 *arrive, i64 c, i64 n,
                              i64 clk, i64 *cmd_out, i64 *wake_out)
{
    i64 best = -1, best_cmd = -1, best_arr = FAR, wake = FAR, n_ready = 0;
    for (i64 i = 0; i < n; i++) {
        i64 key = aqk[i];
        i64 bank = key >> 32;
        i64 cmd = RD + (key >> WRITE_BIT & 1);   /* WR = RD + 1 */
        i64 t = column_ready(d, cmd, c, bank, clk);
        if (t <= clk) {
            n_ready++;
            if (arrive[i] < best_arr) {
                best = i;
                best_cmd = cmd;
                best_arr = arrive[i];
            }
        } else if (t < wake) {
            wake = t;
        }
    }
    if (n_ready > 1)
        wake = clk;
    *cmd_out = best_cmd;
    *wake_out = wake;
    return best;
}

/* FR-FCFS column pick in a read or write queue (arrival order): the first row hit whose cmd
 * (RD or WR) is ready -> slot or -1; *wake_out = earliest tick of a hit not ready. Bank `blocked`
 * (a pending REFpb's, or -1) takes no new hits, so its PRE is not put off. */
static inline i64 scan_column(const Device *d, const i64 *keys, i64 c, i64 n, i64 cmd,
                              i64 blocked, Bank *bk, i64 clk, i64 *wake_out)
{
    i64 wake = FAR, last_bank = -1, last_t = FAR;
    for (i64 i = 0; i < n; i++) {
        i64 key = keys[i];
        i64 bank = key >> 32;
        if (bk[bank].open_row != ROW_OF(key) || bank == blocked)
            continue;
        /* NOTE(perf): see scripts/bench_dram.py -- a run of hits to one bank (a stream) reads
         * its ready tick once */
        i64 t = bank == last_bank ? last_t : column_ready(d, cmd, c, bank, clk);
        last_bank = bank;
        last_t = t;
        if (t <= clk) {
            *wake_out = wake;
            return i;
        }
        if (t < wake)
            wake = t;
    }
    *wake_out = wake;
    return -1;
}

/* FR-FCFS row pick in a read or write queue (arrival order): the first row miss (ACT) or conflict
 * (PRE, unless an activated request waits on the bank) that is ready -> slot or -1, *cmd_out,
 * *wake_out (earliest tick a skipped slot may be ready). NOTE(perf): see scripts/bench_dram.py --
 * the scan remembers the slots it walked past without a pick (the queue's prefix: counts[C_PLEN +
 * qi] slots, none ready before counts[C_PWAKE + qi], their banks in the bitmask counts[C_PMASK +
 * qi], bit bank & 63) and the next scan starts after them: a prefix slot stays unready until that
 * tick, because ready clocks only grow, unless its bank changes state (touch_bank drops the
 * prefix). `cnt` points at channel c's counters. A row hit gets the tick
 * FAR (skipped); the others read their bank's row bound (FAR for a conflict whose bank has an
 * activated request: bound_open_bank) and only a bound that has come takes the exact path. */
static inline i64 scan_row(const Device *d, const i64 *keys, i64 c, i64 n,
                           Bank *bk, i64 clk, i64 *cnt,
                           int qi, i64 *cmd_out, i64 *wake_out)
{
    i64 *plen = cnt + C_PLEN + qi;
    i64 *pwake = cnt + C_PWAKE + qi;
    i64 *pmask = cnt + C_PMASK + qi;
    /* NOTE(perf): see scripts/bench_dram.py -- selects: whether the prefix's tick has come is
     * data (half the scans), a branch on it mostly mispredicted */
    int expired = clk >= *pwake;
    i64 start = expired ? 0 : *plen;
    i64 wake = expired ? FAR : *pwake;
    i64 mask = expired ? 0 : *pmask;
    for (i64 i = start; i < n; i++) {
        i64 key = keys[i];
        i64 bank = key >> 32;
        i64 t = bk[bank].open_row == ROW_OF(key) ? FAR : bk[bank].row_lb;
        if (t <= clk) {
            t = row_bound(d, bk, c, bank);
            bk[bank].row_lb = t;
            if (t <= clk) {
                *plen = i;
                *pwake = wake;
                *pmask = mask;
                *cmd_out = bk[bank].open_row >= 0 ? PRE : ACT;
                *wake_out = wake;
                return i;
            }
        }
        mask |= (i64)1 << (bank & 63);
        wake = MIN(wake, t);
    }
    *plen = n;
    *pwake = wake;
    *pmask = mask;
    *cmd_out = -1;
    *wake_out = wake;
    return -1;
}

/* `bank` changed state: drop a row-scan prefix that holds one of its requests. */
static inline void touch_bank(i64 *cnt, i64 bank)
{
    i64 bit = (i64)1 << (bank & 63);
    for (int qi = 0; qi < 2; qi++) {
        if (cnt[C_PMASK + qi] & bit) {
            cnt[C_PLEN + qi] = 0;
            cnt[C_PWAKE + qi] = NEVER;
            cnt[C_PMASK + qi] = 0;
        }
    }
}

/* Slot i of queue qi left: the prefix (if it held the slot) is one shorter. */
static inline void drop_slot(i64 *cnt, int qi, i64 i)
{
    if (i < cnt[C_PLEN + qi])
        cnt[C_PLEN + qi] -= 1;
}

/* Entry i of a[0:n] leaves: the entries behind it move up. */
static inline void remove_entry(i64 *a, i64 i, i64 n)
{
    __builtin_memmove(a + i, a + i + 1, (size_t)(n - 1 - i) * sizeof *a);
}

static inline i64 count_key(const i64 *keys, i64 n, i64 key)
{
    i64 k = 0;
    for (i64 i = 0; i < n; i++)
        k += keys[i] == key;
    return k;
}

/* The request in slot i of channel ch's read (qi = 0) or write (qi = 1) queue (buf / keys: from
 * its head; b: the request's bank) leaves it: the queue closes up,
 * the row scan's prefix and the bank's queued count and row XOR follow. */
static inline void leave_queue(i64 *buf, i64 *keys, Chan *ch, int qi, i64 i, Bank *b)
{
    i64 *cnt = ch->cnt;
    i64 *qn = &cnt[C_RN + qi];
    b->rows_xor[qi] ^= (int32_t)ROW_OF(keys[i]);
    if (i < *qn - 1 - i) {
        /* NOTE(perf): see scripts/bench_dram.py -- the slots before it move one place back and
         * the head follows, when they are fewer than those behind it (a row pick is mostly near
         * the front): either way the others keep their order and places relative to the head */
        __builtin_memmove(buf + 1, buf, (size_t)i * sizeof *buf);
        __builtin_memmove(keys + 1, keys, (size_t)i * sizeof *keys);
        ch->head[qi]++;
    } else {
        remove_entry(buf, i, *qn);
        remove_entry(keys, i, *qn);
    }
    drop_slot(cnt, qi, i);
    (*qn)--;
    b->queued[qi]--;
}

/* Requests of `key` (bank << 32 | row) in a queue (keys[0:n]) that holds `queued` requests of its
 * bank, the XOR of whose rows is `rows_xor`. NOTE(perf): see scripts/bench_dram.py -- with one
 * request of the bank queued, its row is the XOR: no scan. */
static inline i64 queued_of_key(const i64 *keys, i64 n, i64 key, i64 queued, i64 rows_xor)
{
    if (queued <= 1)
        return queued == 1 && rows_xor == ROW_OF(key);
    return count_key(keys, n, key);
}

/* The controller's direction: to writes when the write queue holds more than `hi` or no read
 * waits, back to reads when it holds fewer than `lo` and a read waits; each switch counts as a
 * read/write turnaround (S_TURNS). */
static inline void set_write_mode(Chan *ch, i64 hi, i64 lo)
{
    i64 rn = ch->cnt[C_RN], wn = ch->cnt[C_WN], w = ch->write_mode;
    i64 no_read = rn == 0;
    /* NOTE(perf): see scripts/bench_dram.py -- bit arithmetic on the direction, one branch on
     * the (rare) switch: with several channels in mixed traffic, the direction of the channel a
     * look comes to is data the branch predictor cannot learn */
    i64 turn = ((w ^ 1) & ((wn > hi) | no_read)) | (w & (wn < lo) & (no_read ^ 1));
    if (RARELY(turn)) {
        ch->write_mode = w ^ 1;
        ch->stats[S_TURNS]++;
    }
}

/* Bank b of the channel with counters cnt closed: the row hits queued for it become misses. */
static inline void close_bank(Bank *b, i64 *cnt)
{
    cnt[C_HQ_R] -= b->hits[0];
    cnt[C_HQ_W] -= b->hits[1];
    b->hits[0] = b->hits[1] = 0;
}

static inline void reset_prefix(i64 *cnt)
{
    for (int qi = 0; qi < 2; qi++) {
        cnt[C_PLEN + qi] = 0;
        cnt[C_PWAKE + qi] = NEVER;
        cnt[C_PMASK + qi] = 0;
    }
}

/* The head of channel ch's refresh queue issued: the others move up. */
static inline void drop_refresh(Chan *ch)
{
    for (i64 j = 0; j < ch->pq_n - 1; j++)
        ch->pq[j] = ch->pq[j + 1];
    ch->pq_n--;
}

/* ---------------------------------------------------------------------- per-bank refresh */
/* A refresh-queue entry is p + n_pcs * k: bank k (0 .. bank groups x banks - 1) of pseudo
 * channel p. The bank of the REFpb due at tick s is (s / tREFIpb - 1) mod banks: round robin,
 * each bank once per `banks` slots, and the same order after the clocks are shifted. */
static inline i64 refresh_entry_bank(const Device *d, i64 c, i64 n_pcs, i64 e)
{
    return (c * n_pcs + e % n_pcs) * d->n_bgs * d->n_banks + e / n_pcs;
}

/* REFpb on (closed) flat bank `bank` at t: no ACT to it for tRFCpb; no ACT to another bank of
 * its pseudo channel, nor another REFpb (it waits as an ACT would), for tRREFD. */
static inline void refpb_issue(const Device *d, i64 bank, i64 t, i64 rfc_pb, i64 rrefd)
{
    d->bk[bank].open_row = -1;
    i64 *clock = bank_clock(d, bank, ACT);
    *clock = MAX(*clock, t + rfc_pb);
    i64 j = PC_NODE(d, bank) * N_COMMANDS + ACT;
    d->ready[j] = MAX(d->ready[j], t + rrefd);
}

/* REFpbs that were pending when the last batch ended, or fell due while the device sat idle
 * before clk, happened: a pending one as soon as its bank could be closed and refreshed, a missed
 * slot's at the slot (only the last `banks` slots matter: earlier ones refreshed the same banks);
 * each closes its bank, with tRFCpb / tRREFD. */
static void missed_refpb(const Device *d, Chan *ch, i64 c, i64 clk, i64 refi, i64 n_pcs,
                         i64 rfc_pb, i64 rrefd)
{
    const i64 n_bpp = d->n_bgs * d->n_banks;
    for (i64 j = 0; j < ch->pq_n; j++) {
        i64 bank = refresh_entry_bank(d, c, n_pcs, ch->pq[j]);
        if (d->bk[bank].open_row >= 0)
            issue_bank_command(d, PRE, bank_path_ready(d, PRE, c, bank), c, bank, 0);
        refpb_issue(d, bank, bank_path_ready(d, ACT, c, bank), rfc_pb, rrefd);
    }
    ch->stats[S_REFS] += ch->pq_n;
    ch->pq_n = 0;
    i64 missed = (clk - ch->next_ref + refi - 1) / refi;
    for (i64 j = MAX(0, missed - n_bpp); j < missed; j++) {
        i64 s = ch->next_ref + j * refi;
        i64 k = (s / refi - 1) % n_bpp;
        for (i64 p = 0; p < n_pcs; p++)
            refpb_issue(d, (c * n_pcs + p) * n_bpp + k, s, rfc_pb, rrefd);
    }
    ch->stats[S_REFS] += missed * n_pcs;
    ch->next_ref += missed * refi;
}

/* Per-bank refresh on channel c's row bus: the head REFpb of its refresh queue. Returns 1 if a
 * command issued; *t_out = the earliest tick it may issue. Its bank open: PRE it, unless an
 * activated request waits on it (the bank takes no new hits meanwhile, scan_column). Closed:
 * REFpb as soon as an ACT to the bank could issue, so ACT -> REFpb (tRC), PRE/RDA/WRA -> REFpb
 * (tRP...), tRRD, tFAW and the row bus apply as to that ACT (Ramulator 2.1 applies tRC, tRP and
 * tRRD_S only); refresh goes first on the row bus, so no ACT from the queues reaches the bank
 * before its REFpb. */
static inline int refresh_bank(const Device *d, Chan *ch, Bank *bk, i64 c, i64 clk, i64 n_pcs,
                               i64 rfc_pb, i64 rrefd, i64 *t_out)
{
    i64 *cnt = ch->cnt;
    i64 bank = refresh_entry_bank(d, c, n_pcs, ch->pq[0]);
    if (bk[bank].open_row >= 0) {
        if (bk[bank].active > 0) {   /* its activated request issues first */
            *t_out = FAR;
            return 0;
        }
        i64 t = bank_path_ready(d, PRE, c, bank);
        if (t > clk) {
            *t_out = t;
            return 0;
        }
        issue_bank_command(d, PRE, clk, c, bank, 0);
        close_bank(&bk[bank], cnt);
    } else {
        i64 t = bank_path_ready(d, ACT, c, bank);
        if (t > clk) {
            *t_out = t;
            return 0;
        }
        refpb_issue(d, bank, clk, rfc_pb, rrefd);
        ch->stats[S_REFS]++;
        drop_refresh(ch);
    }
    touch_bank(cnt, bank);
    bound_closed_bank(bk, bank);   /* PRE or REFpb: closed */
    *t_out = clk;
    return 1;
}

/* ------------------------------------------------------------------------------ the batch */

/* Replay one batch of requests; fills arrive, done_tick and outcome per request and returns the
 * tick at which the last request finished. Arguments as simulate_batch in dram_kernel.py; no two
 * arrays overlap (restrict: each is its own numpy array), so a store to one does not make the
 * compiler load the others again. */
EXPORT i64 dram_simulate_batch(
    i64 n, const i64 *restrict req_key, const u8 *restrict req_write,
    const i64 *restrict inject_tick, i64 chase, i64 start_tick, const i64 *restrict par,
    const i64 *restrict offs, const i64 *restrict con_ptr, const i64 *restrict con_next,
    const i64 *restrict con_lat, const i64 *restrict con_win, const i64 *restrict fast,
    i64 *restrict ready, i64 *restrict hist, i64 *restrict open_row, i64 *restrict next_ref,
    u8 *restrict write_mode, i64 *restrict pq, i64 pcap, i64 *restrict pq_n, i64 *restrict chst,
    i64 *restrict clock, i64 *restrict arrive, i64 *restrict done_tick, int8_t *restrict outcome,
    i64 *restrict scratch, i64 slots, i64 *restrict counts, i64 *restrict banks,
    i64 n_bank_nodes)
{
    const i64 n_ch = par[P_CHANNELS], n_pcs = par[P_PCS], n_bgs = par[P_BGS],
              n_banks = par[P_BANKS];
    const i64 rcap = par[P_RQ], wcap = par[P_WQ], acap = par[P_AQ];
    const i64 cap[2] = {rcap, wcap};
    const i64 hi = par[P_WR_HIGH], lo = par[P_WR_LOW];
    const i64 read_lat = par[P_READ_LAT], write_lat = par[P_WRITE_LAT];
    const i64 refi = par[P_REFI];
    /* per-bank refresh: refi is tREFIpb and rfc tRFCpb */
    const int per_bank = par[P_PER_BANK_REF] != 0;
    const i64 rfc = par[P_RFC], rrefd = par[P_RREFD], n_bpp = n_bgs * n_banks;
    const int closed = par[P_CLOSED_PAGE] != 0;
    const i64 per_tick = par[P_FRONTEND];
    const i64 kofs = Q_KEYS * slots, aofs = (Q_ARRIVE - Q_ACTIVE) * slots;   /* KEYS_AT */
    BankRules rules;
    list_bank_rules(&rules, fast, (closed ? 0 : 1 << RDA | 1 << WRA)
                                  | (per_bank ? 1 << PREA | 1 << REF : 0));
    Bank *bk = (Bank *)banks;
    Device dev = make_device(ready, hist, par[P_HIST], bk, offs, fast, con_ptr, con_next,
                             con_lat, con_win, n_bgs, n_banks);
    dev.rules = &rules;
    const Device *d = &dev;
    const int ch_shift = log2_of(n_pcs * n_bgs * n_banks);   /* flat bank >> ch_shift = channel */
    /* Channel c's counters are chans[c].cnt (C_*). NOTE(perf): see
     * scripts/bench_dram.py -- row hits queued per channel (C_HQ_R / C_HQ_W) and per
     * bank (Bank.hits) are kept up to date, so a column scan runs only when its queue holds a
     * hit and a row scan only when it holds a miss or conflict. A queued request is a hit iff its
     * row is its bank's open row; that changes only when a request is queued or leaves, or when a
     * bank opens (ACT: count the queued keys of the new row) or closes (PRE/PREA/RDA/WRA:
     * zero). */
    /* NOTE(perf): see scripts/bench_dram.py -- requests queued per bank in the read / write
     * queue (Bank.queued): an ACT counts the new row's queued hits only in a queue that holds its
     * bank. */
    /* NOTE(perf): see scripts/bench_dram.py -- C_AQ_WAKE: no active-queue entry is ready before
     * this tick. Entries never change row state while queued and ready clocks only grow, so the
     * bound stays valid until an entry is added (an ACT promotes one: fold its ready tick in). */
    Chan *chans = (Chan *)counts;
    for (i64 c = 0; c < n_ch; c++) {
        i64 *q = scratch + c * N_PLANES * slots;
        Chan fresh = {{0}, next_ref[c], pq_n[c], write_mode[c], {0}, q, pq + c * pcap,
                      ready + c * N_COMMANDS, {q + Q_IDS * slots, q + (Q_IDS + 1) * slots},
                      q + Q_ACTIVE * slots};
        for (int k = 0; k < N_CH_STATS; k++)
            fresh.stats[k] = chst[c * N_CH_STATS + k];
        reset_prefix(fresh.cnt);
        chans[c] = fresh;
    }
    for (i64 b = 0; b < n_bank_nodes; b++) {
        Bank fresh = {{0}, NEVER, -1, {0, 0}, 0, {0, 0}, {0, 0}, 0};
        bk[b] = fresh;
    }
    load_banks(d, n_bank_nodes, open_row);
    /* every request gets its arrive tick when injected and its done tick when its column command
     * issues; before that only pointer chasing reads a done tick (-1: not done) */
    for (i64 i = 0; i < n; i++)
        outcome[i] = -1;
    if (chase)
        for (i64 i = 0; i < n; i++)
            done_tick[i] = -1;

    i64 clk = start_tick;
    /* Refreshes that fell due while the device sat idle before this batch: they happened, so
     * rows are closed and the last one still blocks ACT for tRFC. */
    for (i64 c = 0; c < n_ch; c++) {
        Chan *ch = &chans[c];
        if (ch->next_ref < clk && per_bank) {
            missed_refpb(d, ch, c, clk, refi, n_pcs, rfc, rrefd);
        } else if (ch->next_ref < clk && ch->pq_n == 0) {
            i64 missed = (clk - ch->next_ref + refi - 1) / refi;
            i64 last = ch->next_ref + (missed - 1) * refi;
            ch->next_ref += missed * refi;
            for (i64 p = 0; p < n_pcs; p++) {
                i64 n1 = offs[1] + c * n_pcs + p;
                issue_command(d, REF, last, c, n1, -1, -1, -1);
                ch->stats[S_REFS] += missed;
                i64 b0 = (c * n_pcs + p) * n_bgs * n_banks;
                for (i64 b = b0; b < b0 + n_bgs * n_banks; b++)
                    bk[b].open_row = -1;
            }
        }
    }

    /* earliest tick request i may be injected (inject_tick NULL: all from start_tick) */
#define INJECT(i) (inject_tick ? inject_tick[i] : start_tick)
    i64 nxt = 0;          /* next request the frontend injects */
    /* NOTE(perf): see scripts/bench_dram.py -- the queue count that stopped the frontend and its
     * capacity: until a request leaves that queue the frontend would stop at the same request
     * (its inject tick and the chased request's done tick have passed and stay passed). */
    const i64 *full_q = 0;
    i64 full_cap = 0;
    i64 finished = 0;
    i64 last_done = start_tick;
    while (finished < n) {
        /* ---- frontend: in-order injection, up to per_tick requests this tick ---- */
        i64 sent = 0;
        int blocked = full_q != 0 && *full_q >= full_cap;
        if (!blocked)
            full_q = 0;
        while (!blocked && nxt < n && sent < per_tick) {
            if (INJECT(nxt) > clk)
                break;
            if (chase && nxt > 0 && (done_tick[nxt - 1] < 0 || done_tick[nxt - 1] > clk))
                break;
            i64 key = req_key[nxt];
            i64 bank = key >> 32;
            i64 c = bank >> ch_shift;          /* banks per channel: a power of two */
            int hit = bk[bank].open_row == ROW_OF(key);
            /* the write (w = 1) or the read queue. NOTE(perf): see scripts/bench_dram.py -- its
             * counters by index arithmetic, not by branches on a direction that mixed traffic
             * draws at random */
            int w = req_write[nxt];
            i64 *cnt = chans[c].cnt;
            i64 len = cnt[C_RN + w];
            if (len >= cap[w]) {
                blocked = 1;
                full_q = &cnt[C_RN + w];
                full_cap = cap[w];
                break;
            }
            i64 *ids = chans[c].head[w];
            i64 *start = chans[c].q + (Q_IDS + w) * slots;     /* the plane's */
            if (RARELY(ids + len == start + slots)) {   /* the queue reached the plane's end */
                for (i64 j = 0; j < len; j++) {
                    start[j] = ids[j];
                    KEYS_AT(start)[j] = KEYS_AT(ids)[j];
                }
                chans[c].head[w] = ids = start;
            }
            ids[len] = nxt;
            KEYS_AT(ids)[len] = key;
            cnt[C_RN + w]++;
            bk[bank].queued[w]++;
            bk[bank].rows_xor[w] ^= (int32_t)ROW_OF(key);
            bk[bank].hits[w] += hit;
            cnt[C_HQ_R + w] += hit;
            arrive[nxt] = clk;
            cnt[C_WAKE] = 0;
            nxt++;
            sent++;
        }

        /* ---- controllers: one tick ---- */
        clk++;
        int any_issue = 0;
        for (i64 c = 0; c < n_ch; c++) {
            Chan *ch = &chans[c];
            i64 *cnt = ch->cnt;
            if (RARELY(clk >= ch->next_ref)) {
                i64 e0 = per_bank ? n_pcs * ((ch->next_ref / refi - 1) % n_bpp) : 0;
                ch->next_ref += refi;
                for (i64 p = 0; p < n_pcs; p++) {
                    if (ch->pq_n < pcap) {
                        ch->pq[ch->pq_n] = p + e0;
                        ch->pq_n++;
                    }
                }
                cnt[C_WAKE] = 0;
            }
            if (clk < cnt[C_WAKE])
                continue;
            i64 *caq = ch->aq, *caqk = KEYS_AT(caq), *carr = caq + aofs;   /* active queue */
            int issued = 0;
            i64 soon = ch->next_ref;
            i64 i, t, cmd = -1;
            /* per-bank refresh: the pending REFpb's bank takes no new hits */
            i64 ref_bank = per_bank && ch->pq_n > 0
                ? refresh_entry_bank(d, c, n_pcs, ch->pq[0]) : -1;

            /* -- column bus: active queue first, then (no refresh pending) the r/w queue -- */
            if (clk < cnt[C_AQ_WAKE]) {
                i = -1;
                t = cnt[C_AQ_WAKE];
            } else {
                i = scan_active(d, caqk, carr, c, cnt[C_AN], clk, &cmd,
                                &t);
                cnt[C_AQ_WAKE] = t;
                if (t <= clk)
                    t = clk + 1;
            }
            int src = 0;
            if (t < soon)
                soon = t;
            /* the direction is up to date (set_write_mode) until a queue length changes */
            int mode_set = 0;
            if (i < 0 && (ch->pq_n == 0 || per_bank)) {
                set_write_mode(ch, hi, lo);
                mode_set = 1;
                int wm = (int)ch->write_mode;
                src = wm ? 2 : 1;
                cmd = wm ? WR : RD;
                if (cnt[C_HQ_R + wm] > 0) {
                    i = scan_column(d, KEYS_AT(ch->head[wm]), c, cnt[C_RN + wm], cmd, ref_bank,
                                    bk, clk, &t);
                    if (t < soon)
                        soon = t;
                }
            }
            if (i >= 0) {
                /* NOTE(perf): see scripts/bench_dram.py -- the key and direction from the
                 * queue, not from the request arrays (a random load each) */
                i64 *ids = src == 0 ? caq : ch->head[src - 1];
                i64 r = ids[i];
                i64 key = KEYS_AT(ids)[i];
                i64 bank = key >> 32;
                int wr = cmd == WR;
                if (RARELY(closed)) {
                    /* auto-precharge unless another queued request hits this row: every aq
                     * entry of the bank is a hit, plus the queued hits; minus r itself */
                    i64 autop = cmd == RD ? RDA : WRA;
                    i64 others = bk[bank].active + bk[bank].hits[0] + bk[bank].hits[1] - 1;
                    if (others == 0 && bank_path_ready(d, autop, c, bank) <= clk)
                        cmd = autop;
                }
                issue_bank_command(d, cmd, clk, c, bank, ROW_OF(key));
                if (outcome[r] < 0) {
                    outcome[r] = HIT;
                    ch->stats[S_HITS]++;
                }
                done_tick[r] = clk + (wr ? write_lat : read_lat);
                ch->stats[S_READS + wr]++;      /* S_WRITES = S_READS + 1 */
                if (done_tick[r] > last_done)
                    last_done = done_tick[r];
                finished++;
                if (src == 0) {
                    remove_entry(caq, i, cnt[C_AN]);
                    remove_entry(caqk, i, cnt[C_AN]);
                    remove_entry(carr, i, cnt[C_AN]);
                    cnt[C_AN]--;
                    bk[bank].active--;
                    if (bk[bank].active == 0)
                        touch_bank(cnt, bank);
                } else {              /* a row hit from the read or write queue */
                    int qi = src - 1;
                    leave_queue(ids, KEYS_AT(ids), ch, qi, i, &bk[bank]);
                    mode_set = 0;
                    cnt[C_HQ_R + qi]--;
                    bk[bank].hits[qi]--;
                }
                if (RARELY(cmd == RDA || cmd == WRA)) {
                    close_bank(&bk[bank], cnt);
                    touch_bank(cnt, bank);
                    bound_closed_bank(bk, bank);
                } else {
                    bound_open_bank(bk, bank);
                }
                issued = 1;
            }

            /* -- row bus: refresh first; ACT/PRE from the r/w queue only if none pending (per-bank
             * refresh: also when its command cannot issue) -- */
            int row_free = ch->pq_n == 0;
            if (RARELY(per_bank && !row_free)) {
                int did = refresh_bank(d, ch, bk, c, clk, n_pcs, rfc, rrefd, &t);
                issued |= did;
                row_free = !did;
                if (t < soon)
                    soon = t;
            } else if (RARELY(!row_free)) {
                i64 p = ch->pq[0];
                i64 n1 = offs[1] + c * n_pcs + p;
                i64 b0 = (c * n_pcs + p) * n_bgs * n_banks;
                int any_open = 0, busy = 0;
                for (i64 b = b0; b < b0 + n_bgs * n_banks; b++) {
                    any_open |= bk[b].open_row >= 0;
                    busy |= bk[b].active > 0;
                }
                i64 rcmd = any_open ? PREA : REF;
                if (!(rcmd == PREA && busy)) {
                    t = ready_tick(d, rcmd, c, n1, -1, -1);
                    if (t <= clk) {
                        issue_command(d, rcmd, clk, c, n1, -1, -1, -1);
                        issued = 1;
                        reset_prefix(cnt);
                        if (rcmd == REF) {
                            ch->stats[S_REFS]++;
                            drop_refresh(ch);
                        } else {
                            for (i64 b = b0; b < b0 + n_bgs * n_banks; b++) {
                                close_bank(&bk[b], cnt);
                                bk[b].row_lb = NEVER;   /* closed: ACT next */
                            }
                        }
                    } else if (t < soon) {
                        soon = t;
                    }
                }
            }
            if (row_free) {
                /* NOTE(perf): see scripts/bench_dram.py -- not again when the column bus just
                 * set it (set_write_mode gives the same for the same queue lengths) */
                if (!mode_set)
                    set_write_mode(ch, hi, lo);
                i64 bus_free = MIN(ch->clk[ACT], ch->clk[PRE]);
                int wm = (int)ch->write_mode;
                /* NOTE(perf): see scripts/bench_dram.py -- the queue's planes once per visit */
                i64 *ids = ch->head[wm], *keys = KEYS_AT(ids);
                i = -1;
                if (bus_free > clk) {
                    /* NOTE(perf): the row bus is busy (multi-cycle ACT): skip the scan */
                    t = bus_free;
                } else {
                    t = FAR;
                    i64 n_q = cnt[C_RN + wm];
                    if (n_q > cnt[C_HQ_R + wm])
                        i = scan_row(d, keys, c, n_q, bk, clk, cnt, wm, &cmd, &t);
                }
                if (t < soon)
                    soon = t;
                if (i >= 0) {
                    i64 r = ids[i];
                    i64 key = keys[i];
                    i64 bank = key >> 32;
                    issue_bank_command(d, cmd, clk, c, bank, ROW_OF(key));
                    issued = 1;
                    touch_bank(cnt, bank);
                    if (cmd == ACT) {
                        ch->stats[S_ACTS]++;
                        if (outcome[r] < 0) {
                            outcome[r] = MISS;
                            ch->stats[S_MISSES]++;
                        }
                        if (cnt[C_AN] < acap) {   /* promote: the request leaves its queue */
                            caq[cnt[C_AN]] = r;
                            caqk[cnt[C_AN]] = key | (i64)wm << WRITE_BIT;
                            carr[cnt[C_AN]] = arrive[r];
                            cnt[C_AN]++;
                            bk[bank].active++;
                            t = column_ready(d, RD + wm, c, bank, clk);   /* WR = RD + 1 */
                            if (t < cnt[C_AQ_WAKE])
                                cnt[C_AQ_WAKE] = t;
                            leave_queue(ids, keys, ch, wm, i, &bk[bank]);
                        }
                        /* the bank was closed (no queued hits); now the new row's keys hit */
                        for (int qi = 0; qi < 2; qi++) {
                            i64 k = queued_of_key(KEYS_AT(ch->head[qi]), cnt[C_RN + qi], key,
                                                  bk[bank].queued[qi], bk[bank].rows_xor[qi]);
                            bk[bank].hits[qi] = (int16_t)k;
                            cnt[C_HQ_R + qi] += k;
                        }
                        bound_open_bank(bk, bank);
                    } else {
                        ch->stats[S_PRES]++;
                        if (outcome[r] < 0) {
                            outcome[r] = CONFLICT;
                            ch->stats[S_CONFLICTS]++;
                        }
                        close_bank(&bk[bank], cnt);
                        bound_closed_bank(bk, bank);
                    }
                }
            }
            if (issued) {
                any_issue = 1;
                cnt[C_WAKE] = clk + 1;
            } else {
                cnt[C_WAKE] = soon;
            }
        }

        /* NOTE(perf): see scripts/bench_dram.py -- jump over ticks where no channel can issue and
         * the frontend cannot inject (it is blocked, waiting on inject_tick / chase, or done). */
        if (!any_issue) {
            int can_send = nxt < n && !blocked && INJECT(nxt) <= clk;
            if (chase && nxt < n && nxt > 0
                && (done_tick[nxt - 1] < 0 || done_tick[nxt - 1] > clk))
                can_send = 0;
            if (!can_send) {
                i64 target = FAR;
                for (i64 c = 0; c < n_ch; c++)
                    if (chans[c].cnt[C_WAKE] - 1 < target)
                        target = chans[c].cnt[C_WAKE] - 1;
                if (nxt < n && !blocked) {
                    i64 tt = INJECT(nxt);
                    if (chase && nxt > 0 && done_tick[nxt - 1] > tt)
                        tt = done_tick[nxt - 1];
                    if (tt < target)
                        target = tt;
                }
                if (clk < target && target < FAR - 1)
                    clk = target;
            }
        }
    }
    for (i64 c = 0; c < n_ch; c++) {
        Chan *ch = &chans[c];
        ch->stats[S_LAST_TICK] = MAX(ch->stats[S_LAST_TICK], last_done);
        for (int k = 0; k < N_CH_STATS; k++)
            chst[c * N_CH_STATS + k] = ch->stats[k];
        next_ref[c] = ch->next_ref;
        pq_n[c] = ch->pq_n;
        write_mode[c] = (u8)ch->write_mode;
    }
    store_banks(d, n_bank_nodes, open_row);
    clock[0] = clk;
    return last_done;
}

#ifndef DRAM_KERNEL_VARIANT   /* the rest once, in the portable build */

/* 1 when the CPU runs what dram_kernel_avx2.c is built for (AVX2, BMI1/2, LZCNT, POPCNT:
 * dram_simulate_batch_avx2 may be called), else 0. */
EXPORT i64 dram_cpu_has_avx2(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi")
           && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("lzcnt")
           && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

/* The SHA-256 (first 16 hex digits) of this file as built: setup.py passes it, and
 * dram_kernel.py refuses a library built from another version of this file (its array layouts
 * may differ). Empty when built without setup.py (not checked). */
#ifndef DRAM_SOURCE_HASH
#define DRAM_SOURCE_HASH ""
#endif

EXPORT const char *dram_source_hash(void)
{
    return DRAM_SOURCE_HASH;
}

/* ------------------------------------------------- entry points for the unit tests (ctypes) */
/* Each takes the device state's arrays (ready, open_row) and `banks`, the Bank records of its
 * n_bank_nodes banks (64 bytes each, dram_kernel.py builds them: row bounds and activated
 * requests), and copies the banks' clocks and open rows in and, where it changes them, back. */

EXPORT void dram_issue_command(i64 *ready, i64 *hist, i64 hist_len, i64 *open_row, i64 cmd,
                               i64 t, i64 n0, i64 n1, i64 n2, i64 n3, i64 row, const i64 *offs,
                               i64 n_bgs, i64 n_banks, const i64 *con_ptr, const i64 *con_next,
                               const i64 *con_lat, const i64 *con_win, i64 *banks,
                               i64 n_bank_nodes)
{
    Device d = make_device(ready, hist, hist_len, (Bank *)banks, offs, 0, con_ptr, con_next,
                           con_lat, con_win, n_bgs, n_banks);
    load_banks(&d, n_bank_nodes, open_row);
    issue_command(&d, cmd, t, n0, n1, n2, n3, row);
    store_banks(&d, n_bank_nodes, open_row);
}

EXPORT void dram_issue_bank_command(i64 *ready, i64 *hist, i64 hist_len, i64 *open_row, i64 cmd,
                                    i64 t, i64 c, i64 bank, i64 row, const i64 *offs,
                                    const i64 *fast, i64 n_bgs, i64 n_banks, i64 *banks,
                                    i64 n_bank_nodes)
{
    BankRules rules;
    list_bank_rules(&rules, fast, 0);
    Device d = make_device(ready, hist, hist_len, (Bank *)banks, offs, fast, 0, 0, 0, 0, n_bgs,
                           n_banks);
    d.rules = &rules;
    load_banks(&d, n_bank_nodes, open_row);
    issue_bank_command(&d, cmd, t, c, bank, row);
    store_banks(&d, n_bank_nodes, open_row);
}

EXPORT i64 dram_ready_tick(i64 *ready, const i64 *open_row, i64 cmd, i64 n0, i64 n1, i64 n2,
                           i64 n3, const i64 *offs, i64 n_bgs, i64 n_banks, i64 *banks,
                           i64 n_bank_nodes)
{
    Device d = make_device(ready, 0, 0, (Bank *)banks, offs, 0, 0, 0, 0, 0, n_bgs, n_banks);
    load_banks(&d, n_bank_nodes, open_row);
    return ready_tick(&d, cmd, n0, n1, n2, n3);
}

/* The queue scans on channel c's slots (keys: bank << 32 | row); they set row bounds in `banks`. */
#define SCAN_DEVICE \
    Device d = make_device((i64 *)ready, 0, 0, (Bank *)banks, offs, 0, 0, 0, 0, 0, n_bgs, \
                           n_banks); \
    load_banks(&d, n_bank_nodes, open_row)

/* out[0..2] = slot, command, wake */
EXPORT void dram_scan_row(const i64 *keys, i64 c, i64 n, const i64 *open_row, const i64 *ready,
                          const i64 *offs, i64 n_bgs, i64 n_banks, i64 *banks, i64 n_bank_nodes,
                          i64 clk, i64 *counts, i64 qi, i64 *out)
{
    SCAN_DEVICE;
    out[0] = scan_row(&d, keys, c, n, d.bk, clk, counts + c * CHAN_WORDS, (int)qi, &out[1],
                      &out[2]);
}

/* out[0..1] = slot, wake */
EXPORT void dram_scan_column(const i64 *keys, i64 c, i64 n, i64 cmd, i64 blocked,
                             const i64 *open_row, const i64 *ready, const i64 *offs, i64 n_bgs,
                             i64 n_banks, i64 *banks, i64 n_bank_nodes, i64 clk, i64 *out)
{
    SCAN_DEVICE;
    out[0] = scan_column(&d, keys, c, n, cmd, blocked, d.bk, clk, &out[1]);
}

/* out[0..2] = slot, command, wake; keys with the direction in bit WRITE_BIT, arrival ticks */
EXPORT void dram_scan_active(const i64 *keys, const i64 *arrive, i64 c, i64 n,
                             const i64 *open_row, const i64 *ready, const i64 *offs, i64 n_bgs,
                             i64 n_banks, i64 *banks, i64 n_bank_nodes, i64 clk, i64 *out)
{
    SCAN_DEVICE;
    out[0] = scan_active(&d, keys, arrive, c, n, clk, &out[1], &out[2]);
}

EXPORT void dram_touch_bank(i64 *counts, i64 c, i64 bank)
{
    touch_bank(counts + c * CHAN_WORDS, bank);
}

#endif   /* DRAM_KERNEL_VARIANT */

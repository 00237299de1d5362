-- The eKase payment-order rules on PostgreSQL, as a competent user would build
-- them without kase: one table per fact, one PL/pgSQL function per request
-- kind, one transaction per request (the driver sends a Sync after each call),
-- the day total row locked (SELECT ... FOR UPDATE) while it is checked and
-- raised. Every request is logged with its decision (R47) and answered with a
-- reason code from engine/README.md, so that bench/compare can compare the
-- decisions request by request with kase's.
--
-- Subset: the request kinds of the bench/compare workload (accounts,
-- representatives, grants with limits, one-day limit changes, payment-order
-- prepare, sign and cancel). Applications (R7), means (R22), identity blocks
-- (R28), suspensions (R34) and imports (R8.10) are not modelled: the workload
-- has none, and the driver refuses a request that would need them.
--
-- Modes (fb::AccessMode): 1 view_incoming, 2 view_outgoing, 3 view_all,
-- 4 manage_po, 5 signature_1, 6 signature_2, 7 signature_3, 8 signature_4,
-- 9 online_view, 10 online_manage. Channels: 0 portal, 1 online, 3 treasury.
-- Order status: 0 prepared, 1 submitted, 2 cancelled.

DROP SCHEMA IF EXISTS ekase CASCADE;
CREATE SCHEMA ekase;
SET search_path = ekase;

CREATE TABLE account (
  iban         text PRIMARY KEY,
  owner_client text NOT NULL,
  deposit      boolean NOT NULL,
  fiscal_year  int NOT NULL,
  closed       boolean NOT NULL DEFAULT false,
  blocked      boolean NOT NULL DEFAULT false,
  sig3_users   int NOT NULL DEFAULT 0,  -- R8.8: no signature-4 beside a signature-3 user
  sig4_users   int NOT NULL DEFAULT 0
);

CREATE TABLE representative (       -- R4
  client   text NOT NULL,
  person   text NOT NULL,
  head     boolean NOT NULL,
  specimen boolean NOT NULL,
  PRIMARY KEY (client, person)
);

CREATE TABLE permission (           -- R10: the owner's permission, once per client and account
  client text NOT NULL,
  iban   text NOT NULL,
  PRIMARY KEY (client, iban)
);

CREATE TABLE grants (               -- R8: one mode per user and account; R9 limits
  person    text NOT NULL,
  iban      text NOT NULL,
  client    text NOT NULL,
  mode      smallint NOT NULL,
  per_order bigint NOT NULL,
  daily     bigint NOT NULL,
  PRIMARY KEY (person, iban)
);

CREATE TABLE limit_change (         -- R14, R15: one-day limits (-1: unchanged)
  person    text NOT NULL,
  iban      text NOT NULL,
  day       date NOT NULL,
  per_order bigint NOT NULL,
  daily     bigint NOT NULL,
  PRIMARY KEY (person, iban, day)
);

CREATE TABLE day_total (            -- R9: a user's total per account and business day
  person text NOT NULL,
  iban   text NOT NULL,
  day    date NOT NULL,
  total  bigint NOT NULL,
  PRIMARY KEY (person, iban, day)
);

CREATE TABLE payment_order (
  client       text NOT NULL,
  order_id     text NOT NULL,
  iban         text NOT NULL,
  amount       bigint NOT NULL,
  preparer     text NOT NULL,
  beneficiary  text,
  status       smallint NOT NULL,
  signers      text[] NOT NULL DEFAULT '{}',     -- in signing order
  signer_modes smallint[] NOT NULL DEFAULT '{}',
  counted      text[] NOT NULL DEFAULT '{}',     -- R9: users whose day total holds it
  counted_days date[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (client, order_id)
);

CREATE TABLE holiday (day date PRIMARY KEY);  -- R32: filled by the driver

CREATE TABLE request_log (          -- R47: every request with its decision
  request_id text PRIMARY KEY,
  client     text NOT NULL,
  actor      text NOT NULL,
  kind       text NOT NULL,
  at         timestamptz NOT NULL,
  order_id   text,
  amount     bigint,
  reason     text NOT NULL
);

-- Riga wall-clock time of an intake time stamp (microseconds since the epoch).
CREATE FUNCTION riga(at_us bigint) RETURNS timestamp LANGUAGE sql IMMUTABLE AS
$$ SELECT to_timestamp(at_us::float8 / 1e6) AT TIME ZONE 'Europe/Riga' $$;

-- R32: users act on business days, 08:00-18:00 Riga time.
CREATE FUNCTION service_closed(t timestamp) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN extract(isodow FROM t) >= 6 OR EXISTS (SELECT 1 FROM ekase.holiday h WHERE h.day = t::date)
      THEN 'service.not_business_day'
    WHEN t::time < time '08:00' OR t::time >= time '18:00' THEN 'service.outside_hours'
  END $$;

CREATE FUNCTION is_view(mode smallint) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT mode IN (1, 2, 3, 9) $$;
CREATE FUNCTION has_limits(mode smallint) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT mode IN (4, 5, 6, 7, 8, 10) $$;

-- The user's rights on an account for a client, with R11-R13 for modes
-- stronger than view. Returns a reason code, or NULL with g and a filled.
CREATE FUNCTION acting_rights(p_client text, p_user text, p_iban text, d date,
                              OUT reason text, OUT g ekase.grants, OUT a ekase.account)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  SELECT * INTO g FROM ekase.grants WHERE person = p_user AND iban = p_iban;
  IF NOT FOUND OR g.client <> p_client THEN reason := 'rights.none'; RETURN; END IF;
  SELECT * INTO a FROM ekase.account WHERE iban = p_iban;
  IF NOT FOUND THEN reason := 'account.unknown'; RETURN; END IF;
  IF NOT ekase.is_view(g.mode) THEN
    IF a.owner_client <> p_client OR a.deposit OR a.closed OR a.blocked
       OR a.fiscal_year < extract(year FROM d) THEN
      reason := 'account.view_only'; RETURN;           -- R11, R12, R13
    END IF;
  END IF;
END $$;

-- R9 with R14/R15: per-order limit, then the day total (row locked). Counts
-- the amount when accepted and `count`. Returns a reason code, NULL when within.
CREATE FUNCTION check_limits(g ekase.grants, p_amount bigint, d date, count boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  po bigint := g.per_order;
  dl bigint := g.daily;
  lc ekase.limit_change;
  tot bigint;
BEGIN
  SELECT * INTO lc FROM ekase.limit_change WHERE person = g.person AND iban = g.iban AND day = d;
  IF FOUND THEN
    IF lc.per_order <> -1 THEN po := lc.per_order; END IF;
    IF lc.daily <> -1 THEN dl := lc.daily; END IF;
  END IF;
  IF p_amount > po THEN RETURN 'limit.per_order_exceeded'; END IF;
  IF NOT count THEN RETURN NULL; END IF;
  INSERT INTO ekase.day_total VALUES (g.person, g.iban, d, 0) ON CONFLICT DO NOTHING;
  SELECT total INTO tot FROM ekase.day_total
   WHERE person = g.person AND iban = g.iban AND day = d FOR UPDATE;
  IF tot + p_amount > dl THEN RETURN 'limit.daily_exceeded'; END IF;
  UPDATE ekase.day_total SET total = tot + p_amount WHERE person = g.person AND iban = g.iban AND day = d;
  RETURN NULL;
END $$;

CREATE FUNCTION d_prepare(p_client text, p_actor text, p_channel smallint, at_us bigint,
                          p_order text, p_iban text, p_amount bigint, p_beneficiary text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t timestamp := ekase.riga(at_us);
  d date := t::date;
  r record;
  reason text;
BEGIN
  IF p_channel = 3 THEN RETURN 'auth.wrong_channel'; END IF;            -- R41
  reason := ekase.service_closed(t);                                     -- R32
  IF reason IS NOT NULL THEN RETURN reason; END IF;
  IF p_amount <= 0 THEN RETURN 'order.amount_invalid'; END IF;
  PERFORM 1 FROM ekase.payment_order WHERE client = p_client AND order_id = p_order;
  IF FOUND THEN RETURN 'order.exists'; END IF;
  r := ekase.acting_rights(p_client, p_actor, p_iban, d);
  IF r.reason IS NOT NULL THEN RETURN r.reason; END IF;
  IF ekase.is_view((r.g).mode) THEN RETURN 'mode.view_only'; END IF;
  IF (r.g).mode NOT IN (4, 6, 8) THEN RETURN 'mode.cannot_prepare'; END IF;  -- R8.4, R8.6, R8.8
  reason := ekase.check_limits(r.g, p_amount, d, true);
  IF reason IS NOT NULL THEN RETURN reason; END IF;
  INSERT INTO ekase.payment_order (client, order_id, iban, amount, preparer, beneficiary, status, counted, counted_days)
  VALUES (p_client, p_order, p_iban, p_amount, p_actor, p_beneficiary, 0, ARRAY[p_actor], ARRAY[d]);
  RETURN 'ok';
END $$;

CREATE FUNCTION d_sign(p_client text, p_actor text, p_channel smallint, at_us bigint, p_order text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t timestamp := ekase.riga(at_us);
  d date := t::date;
  o ekase.payment_order;
  r record;
  m smallint;
  n int;
  in_order boolean := false;
  submits boolean := false;
  count boolean;
  reason text;
BEGIN
  IF p_channel = 3 THEN RETURN 'auth.wrong_channel'; END IF;
  reason := ekase.service_closed(t);
  IF reason IS NOT NULL THEN RETURN reason; END IF;
  SELECT * INTO o FROM ekase.payment_order WHERE client = p_client AND order_id = p_order FOR UPDATE;
  IF NOT FOUND THEN RETURN 'order.unknown'; END IF;
  IF o.status = 1 THEN RETURN 'order.already_submitted'; END IF;
  IF o.status = 2 THEN RETURN 'order.cancelled'; END IF;
  r := ekase.acting_rights(o.client, p_actor, o.iban, d);
  IF r.reason IS NOT NULL THEN RETURN r.reason; END IF;
  m := (r.g).mode;
  IF ekase.is_view(m) THEN RETURN 'mode.view_only'; END IF;
  IF m IN (4, 10) THEN RETURN 'mode.cannot_sign'; END IF;
  IF p_actor = ANY (o.signers) THEN RETURN 'signature.same_person'; END IF;
  -- The chain (engine/README.md, R8): with a signature-3 user 2, 1, then 3
  -- submits; without, 2 then 1, 4 alone, or 2 then 4.
  n := cardinality(o.signer_modes);
  IF (r.a).sig3_users > 0 THEN
    IF m = 6 THEN in_order := n = 0; END IF;
    IF m = 5 THEN in_order := n = 1 AND o.signer_modes[1] = 6; END IF;
    IF m = 7 THEN
      in_order := n = 2 AND o.signer_modes[1] = 6 AND o.signer_modes[2] = 5;
      submits := in_order;
    END IF;
  ELSE
    IF m = 6 THEN in_order := n = 0; END IF;
    IF m IN (5, 8) THEN in_order := (n = 1 AND o.signer_modes[1] = 6) OR (n = 0 AND m = 8); END IF;
    submits := in_order AND m <> 6;
  END IF;
  IF NOT in_order THEN RETURN 'signature.out_of_order'; END IF;
  count := NOT (p_actor = ANY (o.counted));                              -- R9: once per user
  reason := ekase.check_limits(r.g, o.amount, d, count);
  IF reason IS NOT NULL THEN RETURN reason; END IF;
  UPDATE ekase.payment_order
     SET signers = signers || p_actor,
         signer_modes = signer_modes || m,
         counted = CASE WHEN count THEN counted || p_actor ELSE counted END,
         counted_days = CASE WHEN count THEN counted_days || d ELSE counted_days END,
         status = CASE WHEN submits THEN 1 ELSE 0 END
   WHERE client = o.client AND order_id = o.order_id;
  RETURN 'ok';
END $$;

CREATE FUNCTION d_cancel(p_client text, p_actor text, p_channel smallint, at_us bigint, p_order text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t timestamp := ekase.riga(at_us);
  o ekase.payment_order;
  reason text;
BEGIN
  IF p_channel = 3 THEN RETURN 'auth.wrong_channel'; END IF;
  reason := ekase.service_closed(t);
  IF reason IS NOT NULL THEN RETURN reason; END IF;
  SELECT * INTO o FROM ekase.payment_order WHERE client = p_client AND order_id = p_order FOR UPDATE;
  IF NOT FOUND THEN RETURN 'order.unknown'; END IF;
  IF o.status = 1 THEN RETURN 'order.already_submitted'; END IF;
  IF o.status = 2 THEN RETURN 'order.cancelled'; END IF;
  IF NOT (o.preparer = p_actor OR p_actor = ANY (o.signers)) THEN RETURN 'order.not_preparer_or_signer'; END IF;
  -- R9: a cancelled order releases its amount from the day totals it entered.
  UPDATE ekase.day_total dt SET total = dt.total - o.amount
    FROM unnest(o.counted, o.counted_days) AS c(person, day)
   WHERE dt.person = c.person AND dt.iban = o.iban AND dt.day = c.day;
  UPDATE ekase.payment_order SET status = 2 WHERE client = o.client AND order_id = o.order_id;
  RETURN 'ok';
END $$;

CREATE FUNCTION d_account_opened(p_channel smallint, p_iban text, p_owner text, p_deposit boolean, p_year int)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF p_channel <> 3 THEN RETURN 'auth.treasury_only'; END IF;            -- R41
  IF p_iban = '' OR p_owner = '' OR p_year < 0 THEN RETURN 'request.value_invalid'; END IF;
  INSERT INTO ekase.account (iban, owner_client, deposit, fiscal_year) VALUES (p_iban, p_owner, p_deposit, p_year)
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN RETURN 'account.exists'; END IF;
  RETURN 'ok';
END $$;

CREATE FUNCTION d_representative(p_client text, p_channel smallint, p_person text, p_head boolean, p_specimen boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF p_channel <> 3 THEN RETURN 'auth.treasury_only'; END IF;
  IF p_person = '' OR p_client = '' THEN RETURN 'request.value_invalid'; END IF;
  INSERT INTO ekase.representative VALUES (p_client, p_person, p_head, p_specimen)
  ON CONFLICT (client, person) DO UPDATE SET head = excluded.head, specimen = excluded.specimen;
  RETURN 'ok';
END $$;

CREATE FUNCTION d_rights_granted(p_client text, p_channel smallint, p_user text, p_iban text, p_mode smallint,
                                 p_per_order bigint, p_daily bigint, p_permission text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  a ekase.account;
  prev ekase.grants;
  prev_mode smallint := 0;
  rep ekase.representative;
  foreign_account boolean;
BEGIN
  IF p_channel <> 3 THEN RETURN 'auth.treasury_only'; END IF;
  IF p_mode < 1 OR p_mode > 10 THEN RETURN 'grant.mode_invalid'; END IF;
  IF p_user = '' OR p_client = '' THEN RETURN 'request.value_invalid'; END IF;
  SELECT * INTO a FROM ekase.account WHERE iban = p_iban FOR UPDATE;
  IF NOT FOUND THEN RETURN 'account.unknown'; END IF;
  foreign_account := a.owner_client <> p_client;
  IF foreign_account THEN
    IF p_permission = '' AND NOT EXISTS (SELECT 1 FROM ekase.permission WHERE client = p_client AND iban = p_iban)
      THEN RETURN 'grant.owner_permission_missing'; END IF;          -- R10
    IF NOT ekase.is_view(p_mode) THEN RETURN 'grant.mode_not_allowed_foreign_account'; END IF;  -- R11
  END IF;
  IF a.deposit AND NOT ekase.is_view(p_mode) THEN RETURN 'grant.mode_not_allowed_deposit_account'; END IF;  -- R12
  IF ekase.has_limits(p_mode) AND (p_per_order <= 0 OR p_daily <= 0 OR p_per_order > p_daily)
    THEN RETURN 'grant.limits_invalid'; END IF;                      -- R9
  SELECT * INTO prev FROM ekase.grants WHERE person = p_user AND iban = p_iban FOR UPDATE;
  IF FOUND THEN
    IF prev.client <> p_client THEN RETURN 'grant.mode_invalid'; END IF;  -- R8: one mode per account
    prev_mode := prev.mode;
  END IF;
  IF p_mode = 8 THEN                                                   -- R8.8
    SELECT * INTO rep FROM ekase.representative WHERE client = p_client AND person = p_user;
    IF NOT FOUND OR NOT (rep.head OR rep.specimen) THEN RETURN 'grant.signature4_not_head_or_specimen'; END IF;
    IF a.sig3_users - (CASE WHEN prev_mode = 7 THEN 1 ELSE 0 END) > 0 THEN
      RETURN 'grant.signature4_with_signature3';
    END IF;
  END IF;
  IF p_mode = 7 AND a.sig4_users - (CASE WHEN prev_mode = 8 THEN 1 ELSE 0 END) > 0 THEN
    RETURN 'grant.signature4_with_signature3';
  END IF;
  INSERT INTO ekase.grants VALUES (p_user, p_iban, p_client, p_mode,
      CASE WHEN ekase.has_limits(p_mode) THEN p_per_order ELSE 0 END,
      CASE WHEN ekase.has_limits(p_mode) THEN p_daily ELSE 0 END)
  ON CONFLICT (person, iban) DO UPDATE SET client = excluded.client, mode = excluded.mode,
      per_order = excluded.per_order, daily = excluded.daily;
  UPDATE ekase.account
     SET sig3_users = sig3_users - (prev_mode = 7)::int + (p_mode = 7)::int,
         sig4_users = sig4_users - (prev_mode = 8)::int + (p_mode = 8)::int
   WHERE iban = p_iban;
  IF foreign_account THEN
    INSERT INTO ekase.permission VALUES (p_client, p_iban) ON CONFLICT DO NOTHING;
  END IF;
  RETURN 'ok';
END $$;

CREATE FUNCTION d_limit_change(p_client text, p_channel smallint, at_us bigint, p_user text, p_iban text,
                               p_date int, p_per_order bigint, p_daily bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  g ekase.grants;
  v_day date;
BEGIN
  IF p_channel <> 3 THEN RETURN 'auth.treasury_only'; END IF;
  SELECT * INTO g FROM ekase.grants WHERE person = p_user AND iban = p_iban;
  IF NOT FOUND OR g.client <> p_client THEN RETURN 'rights.none'; END IF;          -- R14
  IF NOT ekase.has_limits(g.mode) THEN RETURN 'limit_change.mode_without_limits'; END IF;
  BEGIN
    v_day := make_date(p_date / 10000, p_date / 100 % 100, p_date % 100);
  EXCEPTION WHEN others THEN
    RETURN 'calendar.date_invalid';
  END;
  IF v_day < ekase.riga(at_us)::date THEN RETURN 'limit_change.date_past'; END IF;   -- R15
  IF p_per_order = -1 AND p_daily = -1 THEN RETURN 'limit_change.empty'; END IF;
  IF (p_per_order <> -1 AND p_per_order <= 0) OR (p_daily <> -1 AND p_daily <= 0) THEN
    RETURN 'grant.limits_invalid';
  END IF;
  INSERT INTO ekase.limit_change VALUES (p_user, p_iban, v_day, p_per_order, p_daily)
  ON CONFLICT (person, iban, day) DO UPDATE SET per_order = excluded.per_order, daily = excluded.daily;
  RETURN 'ok';
END $$;

-- One entry point per kind: idempotent by request id (a repeated request gets
-- its first decision), decides, logs (R47) and answers the reason code.
CREATE FUNCTION logged(p_rid text, p_client text, p_actor text, p_kind text, at_us bigint,
                       p_order text, p_amount bigint, p_reason text) RETURNS text LANGUAGE sql AS $$
  INSERT INTO ekase.request_log VALUES (p_rid, p_client, p_actor, p_kind, to_timestamp(at_us::float8 / 1e6),
                                        p_order, p_amount, p_reason)
  RETURNING reason $$;

CREATE FUNCTION seen(p_rid text) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT reason FROM ekase.request_log WHERE request_id = p_rid $$;

CREATE FUNCTION po_prepare(rid text, client text, actor text, channel smallint, at_us bigint,
                           ord text, iban text, amount bigint, beneficiary text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN coalesce(ekase.seen(rid), ekase.logged(rid, client, actor, 'prepare', at_us, ord, amount,
                  ekase.d_prepare(client, actor, channel, at_us, ord, iban, amount, beneficiary)));
END $$;

CREATE FUNCTION po_sign(rid text, client text, actor text, channel smallint, at_us bigint, ord text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN coalesce(ekase.seen(rid), ekase.logged(rid, client, actor, 'sign', at_us, ord, NULL,
                  ekase.d_sign(client, actor, channel, at_us, ord)));
END $$;

CREATE FUNCTION po_cancel(rid text, client text, actor text, channel smallint, at_us bigint, ord text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN coalesce(ekase.seen(rid), ekase.logged(rid, client, actor, 'cancel', at_us, ord, NULL,
                  ekase.d_cancel(client, actor, channel, at_us, ord)));
END $$;

CREATE FUNCTION account_opened(rid text, client text, actor text, channel smallint, at_us bigint,
                               iban text, owner text, deposit boolean, fiscal_year int)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN coalesce(ekase.seen(rid), ekase.logged(rid, client, actor, 'account_opened', at_us, NULL, NULL,
                  ekase.d_account_opened(channel, iban, owner, deposit, fiscal_year)));
END $$;

CREATE FUNCTION representative_registered(rid text, client text, actor text, channel smallint, at_us bigint,
                                          person text, head boolean, specimen boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN coalesce(ekase.seen(rid), ekase.logged(rid, client, actor, 'representative', at_us, NULL, NULL,
                  ekase.d_representative(client, channel, person, head, specimen)));
END $$;

CREATE FUNCTION rights_granted(rid text, client text, actor text, channel smallint, at_us bigint,
                               person text, iban text, mode smallint, per_order bigint, daily bigint,
                               permission text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN coalesce(ekase.seen(rid), ekase.logged(rid, client, actor, 'rights_granted', at_us, NULL, NULL,
                  ekase.d_rights_granted(client, channel, person, iban, mode, per_order, daily, permission)));
END $$;

CREATE FUNCTION limit_change_one_day(rid text, client text, actor text, channel smallint, at_us bigint,
                                     person text, iban text, day int, per_order bigint, daily bigint)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN coalesce(ekase.seen(rid), ekase.logged(rid, client, actor, 'limit_change', at_us, NULL, NULL,
                  ekase.d_limit_change(client, channel, at_us, person, iban, day, per_order, daily)));
END $$;

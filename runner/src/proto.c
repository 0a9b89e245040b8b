#include "proto.h"

#include <string.h>

/* Which fields each request takes, and which it needs. */
struct req_rule {
  uint8_t type;
  const char *name;
  uint32_t allowed, required; /* bitmasks of 1u << tag */
  uint64_t flags;             /* SK_F_* bits it accepts */
};

#define B(t) (1u << (t))
static const struct req_rule rules[] = {
    {SK_REQ_EXEC, "exec", B(SK_T_COMMAND) | B(SK_T_TIMEOUT_MS), B(SK_T_COMMAND), 0},
    {SK_REQ_RUN, "run", B(SK_T_ARG) | B(SK_T_ENV) | B(SK_T_CWD) | B(SK_T_TIMEOUT_MS) | B(SK_T_FLAGS), B(SK_T_ARG),
     SK_F_STDIN},
    {SK_REQ_SIGNAL, "signal", B(SK_T_SIGNAL), B(SK_T_SIGNAL), 0},
    {SK_REQ_INFO, "info", 0, 0, 0},
    {SK_REQ_SHUTDOWN, "shutdown", 0, 0, 0},
    {SK_REQ_FS_READ, "fs.read", B(SK_T_PATH) | B(SK_T_OFFSET) | B(SK_T_LENGTH), B(SK_T_PATH), 0},
    {SK_REQ_FS_WRITE, "fs.write", B(SK_T_PATH) | B(SK_T_MODE) | B(SK_T_FLAGS), B(SK_T_PATH),
     SK_F_APPEND | SK_F_PARENTS | SK_F_EXCL},
    {SK_REQ_FS_LIST, "fs.list", B(SK_T_PATH), B(SK_T_PATH), 0},
    {SK_REQ_FS_STAT, "fs.stat", B(SK_T_PATH), B(SK_T_PATH), 0},
    {SK_REQ_FS_MKDIR, "fs.mkdir", B(SK_T_PATH) | B(SK_T_MODE) | B(SK_T_FLAGS), B(SK_T_PATH), SK_F_PARENTS},
    {SK_REQ_FS_REMOVE, "fs.remove", B(SK_T_PATH) | B(SK_T_FLAGS), B(SK_T_PATH), SK_F_RECURSIVE},
    {SK_REQ_FS_RENAME, "fs.rename", B(SK_T_PATH) | B(SK_T_PATH2) | B(SK_T_FLAGS), B(SK_T_PATH) | B(SK_T_PATH2),
     SK_F_NOREPLACE | SK_F_PARENTS},
};
#undef B

static const char *const tag_names[SK_T_MAX_] = {
    [SK_T_COMMAND] = "command", [SK_T_TIMEOUT_MS] = "timeoutMs", [SK_T_PATH] = "path",
    [SK_T_PATH2] = "path2",     [SK_T_OFFSET] = "offset",        [SK_T_LENGTH] = "length",
    [SK_T_MODE] = "mode",       [SK_T_FLAGS] = "flags",          [SK_T_ARG] = "arg",
    [SK_T_ENV] = "env",         [SK_T_CWD] = "cwd",              [SK_T_SIGNAL] = "signal",
};

static const struct req_rule *rule_for(uint8_t type) {
  for (size_t i = 0; i < SK_ARRAY_SIZE(rules); i++)
    if (rules[i].type == type)
      return &rules[i];
  return NULL;
}

bool sk_frame_is_request(uint8_t type) { return rule_for(type) != NULL; }

const char *sk_frame_type_name(uint8_t type) {
  const struct req_rule *r = rule_for(type);
  return r ? r->name : "?";
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static int take_string(const struct req_rule *rule, uint8_t tag, const uint8_t *v, uint32_t n, char **out,
                       sk_error_t *err) {
  if (memchr(v, '\0', n) != NULL)
    return sk_error_code(err, "BAD_REQUEST", "%s: field %s contains a NUL byte", rule->name, tag_names[tag]);
  char *s = xmalloc((size_t)n + 1);
  memcpy(s, v, n);
  s[n] = '\0';
  *out = s;
  return 0;
}

static void strv_push(char ***v, size_t *n, char *s) {
  *v = xrealloc(*v, (*n + 2) * sizeof **v);
  (*v)[(*n)++] = s;
  (*v)[*n] = NULL;
}

/* Stores one field into the request; the rule has already allowed the tag. */
static int take_field(const struct req_rule *rule, struct sk_req *req, uint8_t tag, const uint8_t *v, uint32_t n,
                      sk_error_t *err) {
  switch (tag) {
  case SK_T_COMMAND:
    if (memchr(v, '\0', n) != NULL)
      return sk_error_code(err, "BAD_REQUEST", "exec: the command contains a NUL byte, which no shell can run");
    req->command = xmemdup(v, n);
    req->command_len = n;
    return 0;
  case SK_T_TIMEOUT_MS:
  case SK_T_OFFSET:
  case SK_T_LENGTH:
  case SK_T_MODE:
  case SK_T_FLAGS: {
    if (n != 8)
      return sk_error_code(err, "BAD_REQUEST", "%s: field %s must be a u64 (8 bytes), got %u bytes", rule->name,
                           tag_names[tag], n);
    uint64_t x = get_u64(v);
    if (tag == SK_T_TIMEOUT_MS)
      req->timeout_ms = x;
    else if (tag == SK_T_OFFSET)
      req->offset = x;
    else if (tag == SK_T_LENGTH)
      req->length = x, req->has_length = true;
    else if (tag == SK_T_MODE)
      req->mode = x, req->has_mode = true;
    else
      req->flags = x;
    return 0;
  }
  case SK_T_PATH:
    return take_string(rule, tag, v, n, &req->path, err);
  case SK_T_PATH2:
    return take_string(rule, tag, v, n, &req->path2, err);
  case SK_T_CWD:
    return take_string(rule, tag, v, n, &req->cwd, err);
  case SK_T_SIGNAL:
    return take_string(rule, tag, v, n, &req->signal, err);
  case SK_T_ARG:
  case SK_T_ENV: {
    char *s = NULL;
    if (take_string(rule, tag, v, n, &s, err) < 0)
      return -1;
    if (tag == SK_T_ENV && (n == 0 || s[0] == '=' || strchr(s, '=') == NULL)) {
      free(s);
      return sk_error_code(err, "BAD_REQUEST", "run: env entries must look like NAME=value");
    }
    if (tag == SK_T_ARG)
      strv_push(&req->argv, &req->argc, s);
    else
      strv_push(&req->env, &req->envc, s);
    return 0;
  }
  }
  return sk_error_code(err, "BAD_REQUEST", "%s: unknown field tag %u", rule->name, tag);
}

static int validate(const struct req_rule *rule, const struct sk_req *req, uint32_t seen, sk_error_t *err) {
  uint32_t missing = rule->required & ~seen;
  for (int t = 1; t < SK_T_MAX_; t++)
    if (missing & (1u << t))
      return sk_error_code(err, "BAD_REQUEST", "%s: field %s is required", rule->name, tag_names[t]);
  if (req->flags & ~rule->flags)
    return sk_error_code(err, "BAD_REQUEST", "%s: unknown flags 0x%llx", rule->name,
                         (unsigned long long)(req->flags & ~rule->flags));
  if (req->has_mode && req->mode > 07777)
    return sk_error_code(err, "BAD_REQUEST", "%s: mode %llo is not a permission mode", rule->name,
                         (unsigned long long)req->mode);
  if (req->offset > (uint64_t)INT64_MAX || (req->has_length && req->length > (uint64_t)INT64_MAX))
    return sk_error_code(err, "BAD_REQUEST", "%s: offset or length out of range", rule->name);
  if (req->timeout_ms > 30ull * 24 * 3600 * 1000)
    return sk_error_code(err, "BAD_REQUEST", "%s: timeoutMs %llu is more than 30 days", rule->name,
                         (unsigned long long)req->timeout_ms);
  return 0;
}

int sk_req_parse(uint8_t type, const uint8_t *p, size_t len, struct sk_req *req, sk_error_t *err) {
  const struct req_rule *rule = rule_for(type);
  *req = (struct sk_req){.type = type};
  if (rule == NULL)
    return sk_error_code(err, "BAD_REQUEST", "unknown request type 0x%02x", type);
  uint32_t seen = 0;
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < 5)
      return sk_error_code(err, "BAD_REQUEST", "%s: truncated field header", rule->name);
    uint8_t tag = p[pos];
    uint32_t n = (uint32_t)p[pos + 1] | (uint32_t)p[pos + 2] << 8 | (uint32_t)p[pos + 3] << 16 |
                 (uint32_t)p[pos + 4] << 24;
    pos += 5;
    if (n > len - pos)
      return sk_error_code(err, "BAD_REQUEST", "%s: field %u is longer than the frame", rule->name, tag);
    if (tag == 0 || tag >= SK_T_MAX_ || !(rule->allowed & (1u << tag)))
      return sk_error_code(err, "BAD_REQUEST", "%s: unexpected field tag %u%s%s", rule->name, tag,
                           tag > 0 && tag < SK_T_MAX_ ? " " : "", tag > 0 && tag < SK_T_MAX_ ? tag_names[tag] : "");
    if ((seen & (1u << tag)) && tag != SK_T_ARG && tag != SK_T_ENV)
      return sk_error_code(err, "BAD_REQUEST", "%s: field %s given twice", rule->name, tag_names[tag]);
    seen |= 1u << tag;
    if (take_field(rule, req, tag, p + pos, n, err) < 0)
      return -1;
    pos += n;
  }
  return validate(rule, req, seen, err);
}

static void strv_free(char **v) {
  if (v == NULL)
    return;
  for (char **s = v; *s; s++)
    free(*s);
  free(v);
}

void sk_req_free(struct sk_req *req) {
  free(req->command);
  free(req->path);
  free(req->path2);
  free(req->cwd);
  free(req->signal);
  strv_free(req->argv);
  strv_free(req->env);
  *req = (struct sk_req){0};
}

bool sk_frame_header(const uint8_t *p, size_t avail, uint8_t *type, uint32_t *len) {
  if (avail < SK_FRAME_HDR)
    return false;
  *len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  *type = p[4];
  return true;
}

static void put_header(uint8_t *h, uint8_t type, uint32_t n) {
  h[0] = (uint8_t)n;
  h[1] = (uint8_t)(n >> 8);
  h[2] = (uint8_t)(n >> 16);
  h[3] = (uint8_t)(n >> 24);
  h[4] = type;
}

void sk_frame_put(struct sk_buf *b, uint8_t type, const void *p, size_t n) {
  uint8_t *h = sk_buf_reserve(b, SK_FRAME_HDR + n);
  put_header(h, type, (uint32_t)n);
  if (n > 0)
    memcpy(h + SK_FRAME_HDR, p, n);
  sk_buf_commit(b, SK_FRAME_HDR + n);
}

size_t sk_frame_begin(struct sk_buf *b, uint8_t type) {
  size_t mark = b->len;
  uint8_t *h = sk_buf_reserve(b, SK_FRAME_HDR);
  put_header(h, type, 0);
  sk_buf_commit(b, SK_FRAME_HDR);
  return mark;
}

void sk_frame_end(struct sk_buf *b, size_t mark) {
  uint8_t *h = b->data + b->off + mark;
  put_header(h, h[4], (uint32_t)(b->len - mark - SK_FRAME_HDR));
}

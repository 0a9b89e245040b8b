/* The wire protocol (runner/PROTOCOL.md): frames of [u32 LE payload length][u8 type][payload].
 * Requests carry typed fields as TLV ([u8 tag][u32 LE length][value], integers u64 LE), so the
 * runner needs no JSON parser; responses are raw byte frames (output, file data) and JSON frames
 * (meta, entries, result, error). One operation at a time per connection. */
#ifndef SK_PROTO_H
#define SK_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "util.h"

#define SK_PROTOCOL_VERSION 1
#define SK_FRAME_HDR 5u
#define SK_FRAME_MAX (16u << 20) /* payload bytes; larger frames end the connection */

enum sk_frame_type {
  /* requests, each starting an operation */
  SK_REQ_EXEC = 0x01,
  SK_REQ_RUN = 0x02,
  SK_REQ_SIGNAL = 0x03,
  SK_REQ_INFO = 0x04,
  SK_REQ_SHUTDOWN = 0x05,
  SK_REQ_FS_READ = 0x10,
  SK_REQ_FS_WRITE = 0x11,
  SK_REQ_FS_LIST = 0x12,
  SK_REQ_FS_STAT = 0x13,
  SK_REQ_FS_MKDIR = 0x14,
  SK_REQ_FS_REMOVE = 0x15,
  SK_REQ_FS_RENAME = 0x16,
  /* client → runner while an operation runs */
  SK_IN_DATA = 0x20,   /* bytes of an upload (fs write, run stdin) */
  SK_IN_END = 0x21,    /* end of the upload */
  SK_IN_CANCEL = 0x22, /* stop the operation (exec/run: interrupt; read/list: stop sending) */
  /* runner → client */
  SK_RES_OUT = 0x81,     /* raw bytes: exec output, run stdout, file data */
  SK_RES_ERR = 0x82,     /* raw bytes: run stderr */
  SK_RES_META = 0x83,    /* JSON object sent before data (fs read: the file's stat; run: pid) */
  SK_RES_ENTRIES = 0x84, /* JSON array of directory entries (fs list) */
  SK_RES_RESULT = 0x8e,  /* JSON object, final: the operation succeeded */
  SK_RES_ERROR = 0x8f,   /* JSON object {code, errno, message}, final: it failed */
};

enum sk_tag {
  SK_T_COMMAND = 1,    /* bytes: the shell command (exec) */
  SK_T_TIMEOUT_MS = 2, /* u64 */
  SK_T_PATH = 3,       /* bytes, no NUL */
  SK_T_PATH2 = 4,      /* bytes, no NUL: rename destination */
  SK_T_OFFSET = 5,     /* u64 */
  SK_T_LENGTH = 6,     /* u64 */
  SK_T_MODE = 7,       /* u64: permission bits */
  SK_T_FLAGS = 8,      /* u64: SK_F_* */
  SK_T_ARG = 9,        /* bytes, repeated: argv of run */
  SK_T_ENV = 10,       /* bytes "NAME=value", repeated */
  SK_T_CWD = 11,       /* bytes, no NUL */
  SK_T_SIGNAL = 12,    /* bytes: "SIGINT", "INT" or a number */
  SK_T_MAX_ = 13,
};

enum sk_flag {
  SK_F_APPEND = 1u << 0,    /* fs write: append instead of truncating */
  SK_F_PARENTS = 1u << 1,   /* fs write/mkdir/rename: create missing parent directories */
  SK_F_RECURSIVE = 1u << 2, /* fs remove: remove a directory tree */
  SK_F_STDIN = 1u << 3,     /* run: stdin follows as DATA frames, ended by END */
  SK_F_NOREPLACE = 1u << 4, /* fs rename: fail with EEXIST instead of replacing */
  SK_F_EXCL = 1u << 5,      /* fs write: fail with EEXIST if the file exists */
};

/* A parsed, validated request. Strings are NUL-terminated copies. */
struct sk_req {
  uint8_t type;
  uint8_t *command;
  size_t command_len;
  uint64_t timeout_ms;
  char *path, *path2, *cwd, *signal;
  uint64_t offset, length;
  bool has_length, has_mode;
  uint64_t mode, flags;
  char **argv, **env; /* NULL-terminated */
  size_t argc, envc;
};

bool sk_frame_is_request(uint8_t type);
const char *sk_frame_type_name(uint8_t type);
/* Parses and validates the payload of a request frame. Errors have code BAD_REQUEST. */
int sk_req_parse(uint8_t type, const uint8_t *p, size_t len, struct sk_req *req, sk_error_t *err);
void sk_req_free(struct sk_req *req);

/* Reads a frame header; false if fewer than SK_FRAME_HDR bytes are available. */
bool sk_frame_header(const uint8_t *p, size_t avail, uint8_t *type, uint32_t *len);
/* Appends a whole frame. */
void sk_frame_put(struct sk_buf *b, uint8_t type, const void *p, size_t n);
/* Starts a frame whose payload is appended next; returns a mark for sk_frame_end. */
size_t sk_frame_begin(struct sk_buf *b, uint8_t type);
void sk_frame_end(struct sk_buf *b, size_t mark);

#endif

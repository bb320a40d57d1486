/*
 * udp_batch: a UDP socket for the lean QUIC driver with batched system calls.
 *
 * Receive: on each readiness event (uv_poll on the socket's fd) one recvmmsg of up to
 * `slots` messages into one JS-owned ArrayBuffer (slot i at i * SLOT_BYTES; with UDP_GRO a
 * slot may hold several datagrams of one sender); JS gets ONE callback per batch with the
 * datagram count and the distinct peer addresses; offsets, lengths, ports and address
 * indexes are in a shared Int32Array. The slots are reused by the next batch: JS must be
 * done with them when the callback returns (quiche's recv decrypts in place and keeps
 * nothing).
 * Send: datagrams packed back to back in one buffer with a length array; runs of equal
 * length become UDP GSO sends (UDP_SEGMENT) where the kernel allows, everything goes out
 * in one sendmmsg. The kernel copies the data: the buffer is free on return.
 * EAGAIN: send returns how many datagrams went out; JS queues the rest and asks for a
 * writable callback (wantWritable).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define SLOT_BYTES 65536
#define META_INTS 4 /* per datagram: offset in recv, length, port, address index */
#define SEGS_PER_SLOT 64 /* UDP GRO coalesces at most 64 segments into one slot */
#define MAX_SLOTS 256
#define MAX_SEND 1024
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000

typedef struct {
  napi_env env;
  int fd;
  int family;
  int closed;
  int gso; /* 1: try UDP_SEGMENT; 0: kernel refused it once */
  int want_writable;
  int uv_closed;  /* libuv is done with the poll handle */
  int finalized;  /* the JS handle was collected */
  int teardown;   /* closed by the environment's cleanup hook: no more JS */
  unsigned slots;
  uv_poll_t poll;
  napi_ref self;      /* the JS handle object (strong while open) */
  napi_ref on_batch;  /* (count, addresses[]) */
  napi_ref on_writable;
  napi_ref on_error;  /* (code, syscall) */
  napi_ref on_close;
  napi_ref recv_ab;   /* ArrayBuffer slots * SLOT_BYTES */
  napi_ref meta_ab;   /* ArrayBuffer slots * SEGS_PER_SLOT * META_INTS * 4 */
  uint8_t *recv;
  int32_t *meta;
  napi_async_context actx;
  struct mmsghdr rmsg[MAX_SLOTS];
  struct iovec riov[MAX_SLOTS];
  struct sockaddr_storage raddr[MAX_SLOTS];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } rcmsg[MAX_SLOTS];
  /* Send scratch, per socket: sockets may live in worker threads too. */
  struct mmsghdr smsg[MAX_SEND];
  struct iovec siov[MAX_SEND];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } scmsg[MAX_SEND];
} udp_sock;

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, "EINTERNAL", "udp_batch: N-API call failed");  \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value msg, code, error, sys, errnum;
  char text[256];
  const char *name = uv_err_name(-err);
  snprintf(text, sizeof text, "%s %s (%s)", syscall, name, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  napi_create_int32(env, -err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

static int to_sockaddr(napi_env env, napi_value host, int port, int family, struct sockaddr_storage *ss, socklen_t *len) {
  char buf[64];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, host, buf, sizeof buf, &n) != napi_ok) return -1;
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, buf, &a->sin6_addr) != 1) {
      /* An IPv4 destination on a dual-stack socket. */
      struct in_addr v4;
      if (inet_pton(AF_INET, buf, &v4) != 1) return -1;
      a->sin6_addr.s6_addr[10] = 0xff;
      a->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&a->sin6_addr.s6_addr[12], &v4, 4);
    }
    *len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, buf, &a->sin_addr) != 1) return -1;
    *len = sizeof *a;
  }
  return 0;
}

static void addr_string(const struct sockaddr_storage *ss, char *out, size_t cap, int *port) {
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, out, cap);
    *port = ntohs(a->sin6_port);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, out, cap);
    *port = ntohs(a->sin_port);
  }
}

static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
  return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

static void call_js(udp_sock *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (fn_ref == NULL) return;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  if (napi_get_reference_value(env, s->self, &recv) != napi_ok || recv == NULL) napi_get_undefined(env, &recv);
  if (napi_make_callback(env, s->actx, recv, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static void report_error(udp_sock *s, int err, const char *syscall) {
  napi_value argv[2];
  napi_create_string_utf8(s->env, uv_err_name(-err), NAPI_AUTO_LENGTH, &argv[0]);
  napi_create_string_utf8(s->env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
  call_js(s, s->on_error, 2, argv);
}

static void do_recv(udp_sock *s) {
  napi_env env = s->env;
  unsigned i;
  for (i = 0; i < s->slots; i++) {
    s->riov[i].iov_base = s->recv + (size_t)i * SLOT_BYTES;
    s->riov[i].iov_len = SLOT_BYTES;
    memset(&s->rmsg[i].msg_hdr, 0, sizeof s->rmsg[i].msg_hdr);
    s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsg[i].msg_hdr.msg_iovlen = 1;
    s->rmsg[i].msg_hdr.msg_name = &s->raddr[i];
    s->rmsg[i].msg_hdr.msg_namelen = sizeof s->raddr[i];
    s->rmsg[i].msg_hdr.msg_control = s->rcmsg[i].buf;
    s->rmsg[i].msg_hdr.msg_controllen = sizeof s->rcmsg[i].buf;
  }
  int n = recvmmsg(s->fd, s->rmsg, s->slots, MSG_DONTWAIT, NULL);
  if (n < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    report_error(s, err, "recvmmsg");
    napi_close_handle_scope(env, scope);
    return;
  }
  if (n == 0) return;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value hosts;
  napi_create_array(env, &hosts);
  unsigned distinct[MAX_SLOTS];
  unsigned nd = 0;
  uint32_t count = 0;
  for (i = 0; i < (unsigned)n; i++) {
    struct msghdr *h = &s->rmsg[i].msg_hdr;
    if (h->msg_flags & MSG_TRUNC) continue; /* larger than a slot: dropped */
    unsigned d;
    for (d = 0; d < nd; d++) if (same_host(&s->raddr[distinct[d]], &s->raddr[i])) break;
    if (d == nd) {
      char host[INET6_ADDRSTRLEN];
      int port;
      napi_value str;
      addr_string(&s->raddr[i], host, sizeof host, &port);
      napi_create_string_latin1(env, host, NAPI_AUTO_LENGTH, &str);
      napi_set_element(env, hosts, nd, str);
      distinct[nd++] = i;
    }
    int port = s->raddr[i].ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&s->raddr[i])->sin6_port)
                                                 : ntohs(((struct sockaddr_in *)&s->raddr[i])->sin_port);
    /* With UDP_GRO the kernel may hand over several datagrams of one sender as one: split by segment size. */
    size_t len = s->rmsg[i].msg_len;
    size_t seg = len;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int g;
        memcpy(&g, CMSG_DATA(c), sizeof g);
        if (g > 0) seg = (size_t)g;
      }
    }
    size_t off = 0;
    do {
      size_t l = len - off < seg ? len - off : seg;
      if (count >= s->slots * SEGS_PER_SLOT) break;
      int32_t *m = s->meta + (size_t)count * META_INTS;
      m[0] = (int32_t)((size_t)i * SLOT_BYTES + off);
      m[1] = (int32_t)l;
      m[2] = port;
      m[3] = (int32_t)d;
      count++;
      off += l;
    } while (off < len);
  }
  napi_value argv[2];
  napi_create_uint32(env, count, &argv[0]);
  argv[1] = hosts;
  call_js(s, s->on_batch, 2, argv);
  napi_close_handle_scope(env, scope);
}

static void update_poll(udp_sock *s);

static void on_poll(uv_poll_t *h, int status, int events) {
  udp_sock *s = (udp_sock *)h->data;
  if (s->closed) return;
  if (status < 0) {
    napi_handle_scope scope;
    napi_open_handle_scope(s->env, &scope);
    report_error(s, -status, "poll");
    napi_close_handle_scope(s->env, scope);
    return;
  }
  if (events & UV_READABLE) do_recv(s);
  if (!s->closed && (events & UV_WRITABLE) && s->want_writable) {
    s->want_writable = 0;
    update_poll(s);
    napi_handle_scope scope;
    napi_open_handle_scope(s->env, &scope);
    call_js(s, s->on_writable, 0, NULL);
    napi_close_handle_scope(s->env, scope);
  }
}

static void update_poll(udp_sock *s) {
  if (s->closed) return;
  uv_poll_start(&s->poll, UV_READABLE | (s->want_writable ? UV_WRITABLE : 0), on_poll);
}

static void delete_ref(napi_env env, napi_ref *r) {
  if (*r != NULL) napi_delete_reference(env, *r);
  *r = NULL;
}

static void on_uv_closed(uv_handle_t *h) {
  udp_sock *s = (udp_sock *)h->data;
  napi_env env = s->env;
  s->uv_closed = 1;
  if (s->teardown) {
    /* The environment is going away: no JS; whichever of this and the finalizer comes last frees. */
    if (s->finalized) free(s);
    return;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  call_js(s, s->on_close, 0, NULL);
  napi_close_handle_scope(env, scope);
  delete_ref(env, &s->on_batch);
  delete_ref(env, &s->on_writable);
  delete_ref(env, &s->on_error);
  delete_ref(env, &s->on_close);
  delete_ref(env, &s->recv_ab);
  delete_ref(env, &s->meta_ab);
  napi_async_destroy(env, s->actx);
  /* The JS handle may now be collected; its finalizer frees the struct. */
  napi_reference_unref(env, s->self, NULL);
}

static void finalize_sock(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  udp_sock *s = (udp_sock *)data;
  if (s->self != NULL) napi_delete_reference(env, s->self);
  s->self = NULL;
  s->finalized = 1;
  /* Collected while open only at environment teardown: then the close callback frees. */
  if (s->uv_closed) free(s);
}

static void close_now(udp_sock *s) {
  s->closed = 1;
  uv_poll_stop(&s->poll);
  close(s->fd);
  s->fd = -1;
  uv_close((uv_handle_t *)&s->poll, on_uv_closed);
}

/* Environment teardown (process exit, a worker thread ending) with the socket still open. */
static void cleanup_hook(void *arg) {
  udp_sock *s = (udp_sock *)arg;
  if (s->closed) return;
  s->teardown = 1;
  close_now(s);
}

static udp_sock *unwrap(napi_env env, napi_value obj) {
  void *p = NULL;
  if (napi_unwrap(env, obj, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "EINVAL", "udp_batch: not a socket handle");
    return NULL;
  }
  return (udp_sock *)p;
}

/* The call's arguments (up to n) and the socket of argv[0]; NULL with an exception pending. */
static udp_sock *sock_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  for (size_t i = 0; i < n; i++) napi_get_undefined(env, &argv[i]);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "EINTERNAL", "udp_batch: N-API call failed");
    return NULL;
  }
  return unwrap(env, argv[0]);
}

static int get_fn_ref(napi_env env, napi_value obj, const char *name, napi_ref *out) {
  napi_value fn;
  napi_valuetype t;
  *out = NULL;
  if (napi_get_named_property(env, obj, name, &fn) != napi_ok) return -1;
  napi_typeof(env, fn, &t);
  if (t != napi_function) return 0;
  return napi_create_reference(env, fn, 1, out) == napi_ok ? 0 : -1;
}

/*
 * open({ family: 4|6, host, port, bufferBytes, slots, onBatch, onWritable, onError, onClose })
 * -> handle; handle.recv (ArrayBuffer of slots * 65536), handle.meta (Int32Array: per datagram of a
 * batch its offset in recv, length, port and index in the batch's address list).
 * gro: ask the kernel for UDP_GRO (coalesced receive, split here by segment size).
 */
static napi_value sock_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "EINVAL", "open(options) expected");
    return NULL;
  }
  napi_value o = argv[0];
  int32_t family = 4, port = 0, buffer_bytes = 0, slots = 64;
  bool gro = false;
  CHECK(napi_get_named_property(env, o, "family", &v));
  napi_get_value_int32(env, v, &family);
  CHECK(napi_get_named_property(env, o, "port", &v));
  napi_get_value_int32(env, v, &port);
  CHECK(napi_get_named_property(env, o, "bufferBytes", &v));
  napi_get_value_int32(env, v, &buffer_bytes);
  CHECK(napi_get_named_property(env, o, "slots", &v));
  napi_get_value_int32(env, v, &slots);
  CHECK(napi_get_named_property(env, o, "gro", &v));
  napi_get_value_bool(env, v, &gro);
  if (slots < 1) slots = 1;
  if (slots > MAX_SLOTS) slots = MAX_SLOTS;
  if (family != 4 && family != 6) family = 4;
  napi_value host;
  CHECK(napi_get_named_property(env, o, "host", &host));
  struct sockaddr_storage ss;
  socklen_t sl;
  if (to_sockaddr(env, host, port, family, &ss, &sl) != 0) {
    napi_throw_type_error(env, "EINVAL", "udp_batch: host is not an IP address of the socket's family");
    return NULL;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (buffer_bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  }
  if (gro) {
    int on = 1; /* coalesced receive of a GSO sender's datagrams (Linux >= 5.0; without it, one by one) */
    setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);
  }
  if (family == 6) {
    int off = 0; /* dual stack, as node:dgram's udp6 */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  udp_sock *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "open");
  }
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->gso = 1;
  s->slots = (unsigned)slots;
  napi_value handle, recv_ab, meta_ab, meta_arr, name;
  void *data;
  CHECK(napi_create_object(env, &handle));
  CHECK(napi_create_arraybuffer(env, (size_t)slots * SLOT_BYTES, &data, &recv_ab));
  s->recv = data;
  CHECK(napi_create_arraybuffer(env, (size_t)slots * SEGS_PER_SLOT * META_INTS * 4, &data, &meta_ab));
  s->meta = data;
  CHECK(napi_create_typedarray(env, napi_int32_array, (size_t)slots * SEGS_PER_SLOT * META_INTS, meta_ab, 0, &meta_arr));
  CHECK(napi_set_named_property(env, handle, "recv", recv_ab));
  CHECK(napi_set_named_property(env, handle, "meta", meta_arr));
  CHECK(napi_create_reference(env, recv_ab, 1, &s->recv_ab));
  CHECK(napi_create_reference(env, meta_ab, 1, &s->meta_ab));
  if (get_fn_ref(env, o, "onBatch", &s->on_batch) || get_fn_ref(env, o, "onWritable", &s->on_writable) ||
      get_fn_ref(env, o, "onError", &s->on_error) || get_fn_ref(env, o, "onClose", &s->on_close)) {
    close(fd);
    napi_throw_error(env, "EINTERNAL", "udp_batch: callbacks");
    return NULL;
  }
  CHECK(napi_create_string_utf8(env, "UdpBatchSocket", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, handle, name, &s->actx));
  CHECK(napi_wrap(env, handle, s, finalize_sock, NULL, &s->self));
  napi_reference_ref(env, s->self, NULL);
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int r = uv_poll_init(loop, &s->poll, fd);
  if (r != 0) {
    close(fd);
    s->closed = 1;
    s->uv_closed = 1;
    napi_reference_unref(env, s->self, NULL);
    return throw_errno(env, -r, "uv_poll_init");
  }
  s->poll.data = s;
  CHECK(napi_add_env_cleanup_hook(env, cleanup_hook, s));
  update_poll(s);
  return handle;
}

/* address(handle) -> { host, port } of the bound socket. */
static napi_value sock_address(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  udp_sock *s = sock_args(env, info, 1, argv);
  if (s == NULL) return NULL;
  if (s->closed) return throw_errno(env, EBADF, "getsockname");
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) != 0) return throw_errno(env, errno, "getsockname");
  char host[INET6_ADDRSTRLEN];
  int port;
  addr_string(&ss, host, sizeof host, &port);
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_string_latin1(env, host, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, out, "host", v));
  CHECK(napi_create_int32(env, port, &v));
  CHECK(napi_set_named_property(env, out, "port", v));
  return out;
}

/* connect(handle, host, port): the socket then sends to and hears from that peer only. */
static napi_value sock_connect(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t port = 0;
  udp_sock *s = sock_args(env, info, 3, argv);
  if (s == NULL) return NULL;
  if (s->closed) return throw_errno(env, EBADF, "connect");
  napi_get_value_int32(env, argv[2], &port);
  struct sockaddr_storage ss;
  socklen_t sl;
  if (to_sockaddr(env, argv[1], port, s->family, &ss, &sl) != 0) {
    napi_throw_type_error(env, "EINVAL", "udp_batch: host is not an IP address of the socket's family");
    return NULL;
  }
  if (connect(s->fd, (struct sockaddr *)&ss, sl) != 0) return throw_errno(env, errno, "connect");
  return NULL;
}

/*
 * send(handle, data: Uint8Array, lengths: Int32Array, count, stride, host: string|null, port)
 * -> number of datagrams consumed. Datagram i is at i * stride in data (stride 0: packed
 * back to back). Fewer than count: the socket is full (EAGAIN); call wantWritable and send
 * the rest later. A hard error on one message throws with `consumed` set (its datagrams
 * are dropped).
 */
static napi_value sock_send(napi_env env, napi_callback_info info) {
  napi_value argv[7], result;
  udp_sock *s = sock_args(env, info, 7, argv);
  if (s == NULL) return NULL;
  if (s->closed) return throw_errno(env, EBADF, "sendmmsg");
  napi_typedarray_type ty;
  size_t data_len, nlens;
  void *data, *lens_p;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[1], &ty, &data_len, &data, &ab, &off) != napi_ok || ty != napi_uint8_array) {
    napi_throw_type_error(env, "EINVAL", "send: data must be a Uint8Array");
    return NULL;
  }
  if (napi_get_typedarray_info(env, argv[2], &ty, &nlens, &lens_p, &ab, &off) != napi_ok || ty != napi_int32_array) {
    napi_throw_type_error(env, "EINVAL", "send: lengths must be an Int32Array");
    return NULL;
  }
  int32_t count = 0, stride = 0, port = 0;
  napi_get_value_int32(env, argv[3], &count);
  napi_get_value_int32(env, argv[4], &stride);
  if (count < 0 || (size_t)count > nlens || count > MAX_SEND || stride < 0) {
    napi_throw_range_error(env, "EINVAL", "send: count or stride out of range");
    return NULL;
  }
  const int32_t *lens = lens_p;
  napi_valuetype ht;
  napi_typeof(env, argv[5], &ht);
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  int has_dest = ht == napi_string;
  if (has_dest) {
    napi_get_value_int32(env, argv[6], &port);
    if (to_sockaddr(env, argv[5], port, s->family, &ss, &sl) != 0) {
      napi_throw_type_error(env, "EINVAL", "send: host is not an IP address of the socket's family");
      return NULL;
    }
  }
  uint8_t *p = data;
  size_t at = 0;
  for (int32_t i = 0; i < count; i++) {
    size_t o = stride > 0 ? (size_t)i * (size_t)stride : at;
    if (lens[i] < 0 || (stride > 0 && lens[i] > stride) || o + (size_t)lens[i] > data_len) {
      napi_throw_range_error(env, "EINVAL", "send: lengths exceed the data");
      return NULL;
    }
    s->siov[i].iov_base = p + o;
    s->siov[i].iov_len = (size_t)lens[i];
    at = o + (size_t)lens[i];
  }
  int32_t done = 0;
  while (done < count) {
    /* Messages: a GSO run (equal sizes, the last may be shorter) or one datagram each. */
    unsigned nm = 0;
    int32_t first_dgram[MAX_SEND];
    int32_t segs_of[MAX_SEND];
    int32_t i = done;
    while (i < count) {
      int32_t seg = lens[i];
      int32_t n = 1;
      size_t bytes = (size_t)seg;
      if (s->gso && seg > 0) {
        while (i + n < count && n < GSO_MAX_SEGMENTS && lens[i + n] > 0 && lens[i + n] <= seg &&
               bytes + (size_t)lens[i + n] <= GSO_MAX_BYTES) {
          bytes += (size_t)lens[i + n];
          n++;
          if (lens[i + n - 1] < seg) break; /* a shorter segment ends the run */
        }
      }
      struct msghdr *h = &s->smsg[nm].msg_hdr;
      memset(h, 0, sizeof *h);
      h->msg_iov = &s->siov[i];
      h->msg_iovlen = (size_t)n;
      if (has_dest) {
        h->msg_name = &ss;
        h->msg_namelen = sl;
      }
      if (n > 1) {
        h->msg_control = s->scmsg[nm].buf;
        h->msg_controllen = sizeof s->scmsg[nm].buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segsz = (uint16_t)seg;
        memcpy(CMSG_DATA(c), &segsz, sizeof segsz);
      }
      first_dgram[nm] = i;
      segs_of[nm] = n;
      nm++;
      i += n;
    }
    int sent = sendmmsg(s->fd, s->smsg, nm, MSG_DONTWAIT);
    if (sent < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) break;
      if (err == EINTR) continue;
      if (segs_of[0] > 1 && (err == EIO || err == EINVAL || err == EOPNOTSUPP || err == ENOPROTOOPT)) {
        s->gso = 0; /* the kernel or device refuses GSO: plain datagrams from now on */
        continue;
      }
      /* Drop the first message's datagrams and report. */
      done = first_dgram[0] + segs_of[0];
      throw_errno(env, err, "sendmmsg");
      napi_value consumed, exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_create_int32(env, done, &consumed);
      napi_set_named_property(env, exc, "consumed", consumed);
      napi_throw(env, exc);
      return NULL;
    }
    if (sent == 0) break;
    done = first_dgram[sent - 1] + segs_of[sent - 1];
    /* Fewer than nm: loop; the next call reports EAGAIN or the error of the next message. */
  }
  CHECK(napi_create_int32(env, done, &result));
  return result;
}

/* wantWritable(handle): call onWritable once the socket can take more. */
static napi_value sock_want_writable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_sock *s = sock_args(env, info, 1, argv);
  if (s == NULL || s->closed) return NULL;
  if (!s->want_writable) {
    s->want_writable = 1;
    update_poll(s);
  }
  return NULL;
}

/* close(handle): stop polling, close the fd; onClose is called from the loop. Safe twice. */
static napi_value sock_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_sock *s = sock_args(env, info, 1, argv);
  if (s == NULL || s->closed) return NULL;
  napi_remove_env_cleanup_hook(env, cleanup_hook, s);
  close_now(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, sock_open, NULL, NULL, NULL, napi_default, NULL},
      {"address", NULL, sock_address, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, sock_connect, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, sock_send, NULL, NULL, NULL, napi_default, NULL},
      {"wantWritable", NULL, sock_want_writable, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, sock_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value v;
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_create_uint32(env, SLOT_BYTES, &v);
  napi_set_named_property(env, exports, "slotBytes", v);
  napi_create_uint32(env, META_INTS, &v);
  napi_set_named_property(env, exports, "metaInts", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

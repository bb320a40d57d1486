/*
 * Load client of bench/fanout.ts: N players on one epoll loop, one process.
 * Compiled at bench time with cc. Reads and discards what the server sends,
 * counting bytes per player; prints one JSON line at the end.
 *
 *   fanout-client HOST PORT N MODE REQFILE WARM_MS MEASURE_MS MIN_BYTES
 *
 * MODE http|ws: REQFILE is sent on connect; the first bytes are the status
 * line (200/101 = answered, 503 = refused, anything else = failed).
 * MODE rtmp: C0+C1 is sent on connect; once S0+S1+S2 arrived, C2 (= S1) and
 * REQFILE (connect, createStream, play) follow. A close before media counts
 * as refused.
 * A player is "real time" when it received >= MIN_BYTES in the measure window.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_CONNECTING, S_HANDSHAKE, S_WAIT_STATUS, S_PLAYING, S_REFUSED, S_FAILED, S_CLOSED };

typedef struct {
  int fd;
  int state;
  long long total;
  long long at_warm;
  long long at_end;
  long long hs_got;
  unsigned char s1[1536];
  char status[16];
  int status_len;
} player;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { usleep(1000); continue; } /* small requests only */
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 9) {
    fprintf(stderr, "usage: %s HOST PORT N MODE REQFILE WARM_MS MEASURE_MS MIN_BYTES\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  int n = atoi(argv[3]);
  const char *mode = argv[4];
  int rtmp = strcmp(mode, "rtmp") == 0;
  long long warm = atoll(argv[6]);
  long long measure = atoll(argv[7]);
  long long min_bytes = atoll(argv[8]);
  FILE *f = fopen(argv[5], "rb");
  if (f == NULL) { perror("reqfile"); return 2; }
  static char req[65536];
  size_t req_len = fread(req, 1, sizeof req, f);
  fclose(f);

  player *ps = calloc((size_t)n, sizeof(player));
  int ep = epoll_create1(0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  inet_pton(AF_INET, host, &addr.sin_addr);
  static unsigned char c01[1537];
  c01[0] = 3;
  for (int i = 1; i < 1537; i++) c01[i] = (unsigned char)(i * 7);
  memset(c01 + 5, 0, 4); /* C1 zero field: plain handshake */

  long long t0 = now_ms();
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { ps[i].fd = -1; ps[i].state = S_FAILED; continue; }
    struct linger lg = {1, 0}; /* close with RST: no TIME_WAIT pile-up between runs */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ps[i].fd = fd;
    ps[i].state = S_CONNECTING;
    connect(fd, (struct sockaddr *)&addr, sizeof addr);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (unsigned)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }

  static unsigned char buf[256 * 1024];
  struct epoll_event evs[512];
  int warmed = 0;
  for (;;) {
    long long t = now_ms() - t0;
    if (!warmed && t >= warm) {
      for (int i = 0; i < n; i++) ps[i].at_warm = ps[i].total;
      warmed = 1;
      printf("warm\n");
      fflush(stdout);
    }
    if (t >= warm + measure) break;
    long long wait = warmed ? warm + measure - t : warm - t;
    int k = epoll_wait(ep, evs, 512, (int)(wait < 1 ? 1 : wait > 100 ? 100 : wait));
    for (int e = 0; e < k; e++) {
      player *p = &ps[evs[e].data.u32];
      if (p->state == S_CLOSED || p->state == S_REFUSED || p->state == S_FAILED) continue;
      if (p->state == S_CONNECTING && (evs[e].events & EPOLLOUT)) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) { p->state = S_FAILED; close(p->fd); continue; }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = evs[e].data.u32};
        epoll_ctl(ep, EPOLL_CTL_MOD, p->fd, &ev);
        if (rtmp) {
          if (write_all(p->fd, c01, sizeof c01) < 0) { p->state = S_FAILED; close(p->fd); continue; }
          p->state = S_HANDSHAKE;
        } else {
          if (write_all(p->fd, req, req_len) < 0) { p->state = S_FAILED; close(p->fd); continue; }
          p->state = S_WAIT_STATUS;
        }
      }
      if (!(evs[e].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
      for (;;) {
        ssize_t r = read(p->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) {
          int playing = p->state == S_PLAYING && (!rtmp || p->total > 3073 + 4096);
          p->state = playing ? S_CLOSED : S_REFUSED;
          close(p->fd);
          break;
        }
        p->total += r;
        if (p->state == S_HANDSHAKE) {
          for (ssize_t j = 0; j < r && p->hs_got < 3073; j++, p->hs_got++) {
            if (p->hs_got >= 1 && p->hs_got < 1537) p->s1[p->hs_got - 1] = buf[j];
          }
          if (p->hs_got >= 3073) {
            if (write_all(p->fd, p->s1, 1536) < 0 || write_all(p->fd, req, req_len) < 0) {
              p->state = S_FAILED;
              close(p->fd);
              break;
            }
            p->state = S_PLAYING;
          }
        } else if (p->state == S_WAIT_STATUS) {
          for (ssize_t j = 0; j < r && p->status_len < 12; j++) p->status[p->status_len++] = (char)buf[j];
          if (p->status_len >= 12) {
            if (strncmp(p->status + 9, "200", 3) == 0 || strncmp(p->status + 9, "101", 3) == 0) p->state = S_PLAYING;
            else if (strncmp(p->status + 9, "503", 3) == 0) { p->state = S_REFUSED; close(p->fd); break; }
            else { p->state = S_FAILED; close(p->fd); break; }
          }
        }
      }
    }
  }
  long long realtime = 0, playing = 0, refused = 0, failed = 0, closed = 0, unanswered = 0, sum = 0;
  long long minb = -1, maxb = 0;
  for (int i = 0; i < n; i++) {
    player *p = &ps[i];
    long long w = p->total - p->at_warm;
    if (p->state == S_PLAYING) {
      playing++;
      sum += w;
      if (minb < 0 || w < minb) minb = w;
      if (w > maxb) maxb = w;
      if (w >= min_bytes) realtime++;
    } else if (p->state == S_REFUSED) refused++;
    else if (p->state == S_FAILED) failed++;
    else if (p->state == S_CLOSED) closed++;
    else unanswered++; /* connecting, handshake or status still pending */
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("{\"players\":%d,\"playing\":%lld,\"realtime\":%lld,\"refused\":%lld,\"failed\":%lld,\"closed\":%lld,"
         "\"unanswered\":%lld,\"bytes\":%lld,\"min\":%lld,\"max\":%lld,\"cpuSeconds\":%.3f,\"wallMs\":%lld}\n",
         n, playing, realtime, refused, failed, closed, unanswered, sum, minb < 0 ? 0 : minb, maxb, cpu, now_ms() - t0);
  for (int i = 0; i < n; i++)
    if (ps[i].state == S_PLAYING || ps[i].state == S_CONNECTING || ps[i].state == S_HANDSHAKE || ps[i].state == S_WAIT_STATUS) close(ps[i].fd);
  return 0;
}

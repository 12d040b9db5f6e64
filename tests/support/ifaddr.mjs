#!/usr/bin/env node
// Prints the IPv4 broadcast address of IFACE as a program that uses getifaddrs() semantics
// sees it: ioctl(SIOCGIFBRDADDR) on a UDP socket (what OpenTTD and Java's
// InterfaceAddress.getBroadcast read), or "none". Run inside a namespace:
//   node tests/support/ifaddr.mjs IFACE
import koffi from 'koffi'

const SIOCGIFBRDADDR = 0x8919
const AF_INET = 2
const SOCK_DGRAM = 2
const libc = koffi.load('libc.so.6')
const socket = libc.func('int socket(int domain, int type, int protocol)')
const ioctl = libc.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)')
const close = libc.func('int close(int fd)')

const fd = socket(AF_INET, SOCK_DGRAM, 0)
const ifr = Buffer.alloc(40)
ifr.write(process.argv[2] ?? 'ovl0', 0, 15, 'ascii')
const r = ioctl(fd, SIOCGIFBRDADDR, ifr)
close(fd)
// struct ifreq: name[16], then struct sockaddr_in: family(2) port(2) addr(4).
process.stdout.write(r < 0 || ifr.readUInt16LE(16) !== AF_INET ? 'none\n' : `${[...ifr.subarray(20, 24)].join('.')}\n`)

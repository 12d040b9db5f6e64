/** Frame traffic classes (kept apart from packet.ts so ports.ts can use them without a cycle). */

/** Traffic classes: counter indices and storm-control categories. */
export const CLASS_UNICAST = 0
export const CLASS_BROADCAST = 1
export const CLASS_MULTICAST = 2
export const CLASS_ARP = 3
export const CLASS_ND = 4
export const CLASS_IGMP_MLD = 5
export const CLASS_MDNS = 6
export const CLASS_SSDP = 7
export const CLASS_NETBIOS = 8
export const CLASS_DHCP = 9
export const CLASS_LLMNR = 10
export const CLASS_WSD = 11
export const CLASS_GAME = 12
export const CLASS_OTHER = 13
export const FRAME_CLASS_COUNT = 14
export const FRAME_CLASS_NAMES = [
  'unicast', 'broadcast', 'multicast', 'arp', 'nd', 'igmp_mld', 'mdns', 'ssdp', 'netbios', 'dhcp', 'llmnr', 'wsd', 'game', 'other'
] as const
export type FrameClassName = typeof FRAME_CLASS_NAMES[number]

/** ARP, ND, IGMP/MLD, DHCP, mDNS, SSDP, NetBIOS, LLMNR, WS-Discovery and LAN-game discovery. */
export const isDiscoveryClass = (c: number): boolean => c >= CLASS_ARP && c <= CLASS_GAME

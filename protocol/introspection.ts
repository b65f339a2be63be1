/**
 * Introspection XML for the interfaces Hive serves with dbus-next's low-level API, and the
 * normalisation that lets a test compare a running node's XML with the committed file.
 */
export type Arg = [name: string, type: string];

export interface InterfaceSpec {
  name: string;
  methods: Record<string, { in: Arg[]; out: Arg[] }>;
  signals: Record<string, Arg[]>;
  properties: Record<string, string>;
}

const STANDARD = `  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface" type="s" direction="in"/><arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="out"/></method>
    <method name="GetAll"><arg name="interface" type="s" direction="in"/><arg name="properties" type="a{sv}" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
  </interface>
`;

export function interfaceXml(spec: InterfaceSpec): string {
  const out: string[] = [`  <interface name="${spec.name}">`];
  for (const [name, m] of Object.entries(spec.methods)) {
    out.push(`    <method name="${name}">`);
    for (const [a, t] of m.in) out.push(`      <arg name="${a}" type="${t}" direction="in"/>`);
    for (const [a, t] of m.out) out.push(`      <arg name="${a}" type="${t}" direction="out"/>`);
    out.push('    </method>');
  }
  for (const [name, args] of Object.entries(spec.signals)) {
    out.push(`    <signal name="${name}">`);
    for (const [a, t] of args) out.push(`      <arg name="${a}" type="${t}"/>`);
    out.push('    </signal>');
  }
  for (const [name, t] of Object.entries(spec.properties)) {
    out.push(`    <property name="${name}" type="${t}" access="read"/>`);
  }
  out.push('  </interface>');
  return out.join('\n') + '\n';
}

export function objectXml(interfaces: string[]): string {
  return '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n' +
    ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n<node>\n' + interfaces.join('') + STANDARD + '</node>\n';
}

/** The XML of a node with child nodes only, for the parents of an object path. */
export function childrenXml(children: string[]): string {
  return '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n' +
    ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n<node>\n' +
    children.map((c) => `  <node name="${c}"/>\n`).join('') + '</node>\n';
}

/**
 * Reduces introspection XML to the elements of one interface, without comments, whitespace or
 * self-closing differences, so that two XML texts describing the same interface compare equal.
 */
export function normaliseInterface(xml: string, iface: string): string {
  const noComments = xml.replace(/<!--[\s\S]*?-->/g, '');
  const start = noComments.indexOf(`<interface name="${iface}">`);
  if (start === -1) return '';
  const end = noComments.indexOf('</interface>', start);
  return noComments
    .slice(start, end + '</interface>'.length)
    .replace(/<(\w+)([^>]*?)\s*\/>/g, '<$1$2></$1>')
    .replace(/>\s+</g, '><')
    .replace(/\s+/g, ' ')
    .trim();
}

// vSphere adapter tests — sample vim25 responses, shaped like vCenter's and vcsim's answers, for the
// decoding tests (no network).

const ENV_OPEN =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
  'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const ENV_CLOSE = '</soapenv:Body></soapenv:Envelope>';

/** Wraps a body element in a SOAP envelope. */
export const soapEnvelope = (body: string): string => ENV_OPEN + body + ENV_CLOSE;

/** One VirtualMachine ObjectContent with the benchmark's ten properties. */
export function vmObject(i: number, name = `DC0_C0_RP0_VM${i}`): string {
  return (
    `<objects><obj type="VirtualMachine">vm-${i}</obj>` +
    `<propSet><name>config.guestFullName</name><val xsi:type="xsd:string">Other Linux (64-bit)</val></propSet>` +
    `<propSet><name>config.hardware.memoryMB</name><val xsi:type="xsd:int">${1024 + i}</val></propSet>` +
    `<propSet><name>config.hardware.numCPU</name><val xsi:type="xsd:int">2</val></propSet>` +
    `<propSet><name>config.template</name><val xsi:type="xsd:boolean">${i % 10 === 0 ? 'true' : 'false'}</val></propSet>` +
    `<propSet><name>config.uuid</name><val xsi:type="xsd:string">4230${String(i).padStart(4, '0')}-aaaa-bbbb-cccc-dddddddddddd</val></propSet>` +
    `<propSet><name>datastore</name><val xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="Datastore">datastore-1</ManagedObjectReference><ManagedObjectReference type="Datastore">datastore-2</ManagedObjectReference></val></propSet>` +
    `<propSet><name>guest.ipAddress</name><val xsi:type="xsd:string">10.0.${i % 256}.${(i >> 8) % 256}</val></propSet>` +
    `<propSet><name>name</name><val xsi:type="xsd:string">${name}</val></propSet>` +
    `<propSet><name>runtime.host</name><val type="HostSystem" xsi:type="ManagedObjectReference">host-${i % 4}</val></propSet>` +
    `<propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet>` +
    `<propSet><name>summary.storage.committed</name><val xsi:type="xsd:long">${1073741824 * 50 + i}</val></propSet>` +
    '</objects>'
  );
}

/** A RetrievePropertiesEx (or Continue…) page of VMs `from`..`to-1`, with a token unless it is the last. */
export function retrievePage(
  from: number,
  to: number,
  token?: string,
  method = 'RetrievePropertiesEx',
): string {
  let objs = '';
  for (let i = from; i < to; i++) objs += vmObject(i);
  const tok = token ? `<token>${token}</token>` : '';
  return soapEnvelope(
    `<${method}Response xmlns="urn:vim25"><returnval>${tok}${objs}</returnval></${method}Response>`,
  );
}

/** A SOAP fault as vCenter sends it (detail element `<Type>Fault` with xsi:type). */
export function faultEnvelope(type: string, message: string, detailInner = ''): string {
  return soapEnvelope(
    '<soapenv:Fault><faultcode>ServerFaultCode</faultcode>' +
      `<faultstring>${message}</faultstring>` +
      `<detail><${type}Fault xmlns="urn:vim25" xsi:type="${type}">${detailInner}</${type}Fault></detail>` +
      '</soapenv:Fault>',
  );
}

/** A WaitForUpdatesEx answer: a power-off modify, an enter and a leave. */
export const waitForUpdatesResponse = soapEnvelope(
  '<WaitForUpdatesExResponse xmlns="urn:vim25"><returnval><version>1_2</version>' +
    '<filterSet><filter type="PropertyFilter">session[52a]52b</filter>' +
    '<objectSet><kind>modify</kind><obj type="VirtualMachine">vm-42</obj>' +
    '<changeSet><name>runtime.powerState</name><op>assign</op><val xsi:type="VirtualMachinePowerState">poweredOff</val></changeSet>' +
    '<changeSet><name>guest.ipAddress</name><op>remove</op></changeSet>' +
    '</objectSet>' +
    '<objectSet><kind>enter</kind><obj type="VirtualMachine">vm-43</obj>' +
    '<changeSet><name>name</name><op>assign</op><val xsi:type="xsd:string">new &amp; shiny</val></changeSet>' +
    '<changeSet><name>config.hardware.numCPU</name><op>assign</op><val xsi:type="xsd:int">4</val></changeSet>' +
    '</objectSet>' +
    '<objectSet><kind>leave</kind><obj type="VirtualMachine">vm-7</obj></objectSet>' +
    '</filterSet><truncated>true</truncated></returnval></WaitForUpdatesExResponse>',
);

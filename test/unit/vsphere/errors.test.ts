// vSphere adapter tests — redaction and error shapes (no network).

import { describe, expect, it } from 'vitest';
import {
  InvalidVersionError,
  NotAuthenticatedError,
  redact,
  SoapFault,
  TimeoutError,
  toTypedFault,
} from '#shared/vsphere';
import { parseSoap } from '../../../shared/vsphere/parse.ts';
import { faultEnvelope } from './fixtures.ts';

describe('redact', () => {
  it('hides every occurrence of each secret', () => {
    expect(redact('login as bob with s3cret! failed: s3cret!', ['s3cret!'])).toBe(
      'login as bob with *** failed: ***',
    );
  });

  it('hides vmware_soap_session cookie values, quoted or not', () => {
    expect(redact('Cookie: vmware_soap_session="52a4-ff"; Path=/', [])).toBe(
      'Cookie: vmware_soap_session=***; Path=/',
    );
    expect(redact('vmware_soap_session=abcdef12 next', [])).toBe('vmware_soap_session=*** next');
  });

  it('ignores empty or very short secrets so ordinary words survive', () => {
    expect(redact('a password', [undefined, '', 'a'])).toBe('a password');
  });
});

describe('error classes', () => {
  it('keep the fault type and class hierarchy callers branch on', () => {
    const args = {
      faultType: 'InvalidCollectorVersion',
      faultCode: 'ServerFaultCode',
      faultString: '',
      detail: {},
    };
    const e = new InvalidVersionError(args, 'WaitForUpdatesEx');
    expect(e).toBeInstanceOf(SoapFault);
    expect(e.name).toBe('InvalidVersionError');
    expect(new NotAuthenticatedError({ ...args, faultType: 'NotAuthenticated' })).toBeInstanceOf(SoapFault);
    expect(new TimeoutError('RetrievePropertiesEx', 250).message).toBe(
      'RetrievePropertiesEx timed out after 250 ms',
    );
  });
});

describe('toTypedFault', () => {
  const fault = (xml: string, method: string) => parseSoap(xml, method).fault!;

  it('turns InvalidCollectorVersion, and InvalidArgument on version from WaitForUpdatesEx, into InvalidVersionError', () => {
    expect(
      toTypedFault(fault(faultEnvelope('InvalidCollectorVersion', ''), 'WaitForUpdatesEx')),
    ).toBeInstanceOf(InvalidVersionError);
    const onVersion = fault(
      faultEnvelope('InvalidArgument', 'bad', '<invalidProperty>version</invalidProperty>'),
      'WaitForUpdatesEx',
    );
    expect(toTypedFault(onVersion)).toBeInstanceOf(InvalidVersionError);
  });

  it('keeps other InvalidArgument faults and other methods as plain SoapFaults', () => {
    const other = toTypedFault(
      fault(
        faultEnvelope('InvalidArgument', 'bad', '<invalidProperty>spec</invalidProperty>'),
        'WaitForUpdatesEx',
      ),
    );
    expect(other).not.toBeInstanceOf(InvalidVersionError);
    expect(other.faultType).toBe('InvalidArgument');
    const elsewhere = toTypedFault(
      fault(
        faultEnvelope('InvalidArgument', 'bad', '<invalidProperty>version</invalidProperty>'),
        'CreateFilter',
      ),
    );
    expect(elsewhere).not.toBeInstanceOf(InvalidVersionError);
  });

  it('turns NotAuthenticated into NotAuthenticatedError, keeping method and detail', () => {
    const e = toTypedFault(
      fault(faultEnvelope('NotAuthenticated', '', '<privilegeId>System.View</privilegeId>'), 'Foo'),
    );
    expect(e).toBeInstanceOf(NotAuthenticatedError);
    expect(e.method).toBe('Foo');
    expect(e.detail.privilegeId).toBe('System.View');
  });
});

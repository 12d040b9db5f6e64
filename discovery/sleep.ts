/** A sleep that does not keep the process alive (responders' probe and announce gaps). */
export const unrefSleep = (ms: number): Promise<void> => new Promise(resolve => { setTimeout(resolve, ms).unref() })

import { mountPage } from '../../ui/mount';
import { App } from './App';
import '../../ui/page.css';

void mountPage('/popup.html', <App />);
